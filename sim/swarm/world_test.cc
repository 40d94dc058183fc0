#include "sim/swarm/world.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "sim/config/yaml_writer.h"
#include "sim/swarm/run_world.h"
#include "sim/world/simulation.h"

namespace fvd::sim::swarm {
namespace {

WorkloadConfig Draw(uint64_t seed, const SwarmSpec& spec = {}) {
  auto w = DrawWorld(spec, seed, "t");
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? *w : WorkloadConfig{};
}

SwarmSpec With(const std::string& knob, Domain d) {
  SwarmSpec s;
  s.knobs[knob] = std::move(d);
  return s;
}

TEST(SwarmWorld, TheSameSeedGivesTheSameWorldAndOthersOthers) {
  std::set<std::string> texts;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const WorkloadConfig a = Draw(seed), b = Draw(seed);
    EXPECT_TRUE(a == b) << "seed " << seed;
    EXPECT_EQ(a.seed, seed);
    texts.insert(WriteWorkloadYaml(a));
  }
  EXPECT_EQ(texts.size(), 20u) << "two seeds drew the same world";
}

// Every world the defaults draw is one the simulator builds: 300 seeds.
TEST(SwarmWorld, EveryDrawnWorldBuilds) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const WorkloadConfig w = Draw(seed);
    auto sim = Simulation::Build(w, seed);
    EXPECT_TRUE(sim.ok()) << "seed " << seed << ": " << sim.status().ToString() << "\n"
                          << WriteWorkloadYaml(w);
  }
}

// Turso's rule: a knob's stream is its own. Narrowing one knob changes that knob and nothing else.
TEST(SwarmWorld, NarrowingOneKnobLeavesEveryOtherDrawAlone) {
  const SwarmSpec narrow = With("disk.read_latency", Domain::Choices({123'000}));
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    WorkloadConfig a = Draw(seed), b = Draw(seed, narrow);
    for (DiskConfig& d : b.disks) {
      if (d.name.rfind("host-", 0) != 0) continue;
      EXPECT_EQ(d.read_latency_ns, 123'000u);
    }
    for (size_t i = 0; i < a.disks.size() && i < b.disks.size(); ++i)
      a.disks[i].read_latency_ns = b.disks[i].read_latency_ns;
    EXPECT_TRUE(a == b) << "seed " << seed << "\n" << WriteWorkloadYaml(a) << "\n"
                        << WriteWorkloadYaml(b);
  }
}

TEST(SwarmWorld, FeaturesAreFullyOnOrOffPerSeed) {
  std::map<std::string, int> on;
  const int seeds = 200;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    for (const std::string& f : WorldFeatures(Draw(seed))) ++on[f];
  }
  // Every feature is on in some seeds and off in others.
  for (const FeatureDef& f : Features()) {
    // A profile also needs a base and a second VM group on it: a quarter of its chance.
    EXPECT_GT(on[std::string(f.name)], f.name == "profile" ? seeds / 32 : seeds / 8) << f.name;
    EXPECT_LT(on[std::string(f.name)], seeds * 7 / 8 + (f.name == "journal" ? seeds : 0)) << f.name;
  }
  SwarmSpec always, never;
  always.feature_ppm["crashes"] = 1'000'000;
  always.feature_ppm["io_errors"] = 1'000'000;
  never.feature_ppm["crashes"] = 0;
  never.feature_ppm["compact"] = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const WorkloadConfig a = Draw(seed, always), n = Draw(seed, never);
    EXPECT_FALSE(a.crashes.empty());
    EXPECT_FALSE(a.errors.empty());
    EXPECT_TRUE(n.crashes.empty());
    for (const VmConfig& v : n.vms) EXPECT_FALSE(v.image.compact);
    // Without crashes a world may have no journal; with them it always has one.
    for (const VmConfig& v : a.vms) EXPECT_GT(v.image.journal_size_bytes, 0u);
  }
}

TEST(SwarmWorld, DrawsStayInTheirDomains) {
  SwarmSpec s;
  s.knobs["disk.queue_depth"] = Domain::Choices({7});
  s.knobs["phase.queue_depth"] = Domain::Range(3, 5);
  s.knobs["disk.read_latency"] = Domain::Range(1'000, 3'000'000);
  s.knobs["phase.kind"] = Domain::Choices({0});  // random
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    const WorkloadConfig w = Draw(seed, s);
    for (const DiskConfig& d : w.disks) {
      if (d.name == "server") continue;
      EXPECT_EQ(d.queue_depth, 7u);
      EXPECT_GE(d.read_latency_ns, 1'000u);
      EXPECT_LE(d.read_latency_ns, 3'000'000u);
    }
    for (const VmConfig& v : w.vms) {
      for (const PhaseConfig& p : v.phases) {
        EXPECT_EQ(p.kind, "random");
        EXPECT_GE(p.queue_depth, 3u);
        EXPECT_LE(p.queue_depth, 5u);
      }
    }
  }
}

TEST(SwarmWorld, FeaturesOfAHandWrittenWorkload) {
  auto w = LoadRunWorld(std::string(FVD_WORKLOADS_DIR) + "/crash-storm.yaml", std::nullopt, false);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->features, (std::vector<std::string>{"base", "compact", "journal", "crashes", "zipf",
                                                   "flushes", "volatile_cache"}));
  EXPECT_FALSE(w->swarm);
  EXPECT_EQ(w->seed, 1u);
}

}  // namespace
}  // namespace fvd::sim::swarm
