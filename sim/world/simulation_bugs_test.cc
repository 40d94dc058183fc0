// The oracle catches a deliberately broken engine: crash-storm.yaml with the data flush before
// journal writes skipped (core/image/test_bugs.h) must report violations within its first
// seeds, and the same runs without the bug must not. Built only against fvd_sim_testbugs.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "sim/config/yaml_loader.h"
#include "sim/world/simulation.h"

namespace fvd::sim {
namespace {

SimResult RunCrashStorm(uint64_t seed, bool bug) {
  auto config = LoadWorkloadFile(std::string(FVD_WORKLOADS_DIR) + "/crash-storm.yaml");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  SimOptions options;
  options.bugs.skip_data_flush_before_journal = bug;
  auto sim = Simulation::Build(*config, seed, options);
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  return (*sim)->Run(nullptr);
}

TEST(SimulationBugsTest, CrashStormCatchesASkippedDataFlush) {
  // Whether a crash exposes the bug depends on which cached writes it keeps and on the engine's
  // timing, so the question is whether some seed of the first few does, not whether seed 1
  // does (a change of timing elsewhere once made seed 1 pass while seeds 2 and 3 caught it).
  // Every seed tried must pass with the correct engine.
  constexpr uint64_t kSeeds = 6;
  uint64_t caught_at = 0;
  for (uint64_t seed = 1; seed <= kSeeds && caught_at == 0; ++seed) {
    const SimResult clean = RunCrashStorm(seed, false);
    EXPECT_TRUE(clean.ok()) << "seed " << seed << ": " << clean.violations.front();
    const SimResult broken = RunCrashStorm(seed, true);
    std::printf("seed %d: broken engine %s\n", static_cast<int>(seed),
                broken.ok() ? "passed (not caught)" : broken.violations.front().c_str());
    if (!broken.ok()) caught_at = seed;
  }
  EXPECT_NE(caught_at, 0u) << "crash-storm.yaml passed a broken engine on seeds 1-" << kSeeds;
}

// Worlds the swarm found failing with one deliberate bug, minimized (fvdsim explore --swarm,
// then fvdsim minimize; each file's header says from which seed): with the bug the simulator
// must report the same signature, without it every check must pass.
struct FoundWorld {
  const char* bug;
  bool TestBugs::*flag;
};

class SwarmFoundWorld : public ::testing::TestWithParam<FoundWorld> {};

std::string SignatureInHeader(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const std::string prefix = "# It fails ";
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size(), line.find(' ', prefix.size()) - prefix.size());
  }
  return "";
}

TEST_P(SwarmFoundWorld, FailsWithItsBugAndPassesWithout) {
  const std::string path = std::string(FVD_SIM_TESTDATA_DIR) + "/" + GetParam().bug + ".yaml";
  auto config = LoadWorkloadFile(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const std::string expected = SignatureInHeader(path);
  ASSERT_FALSE(expected.empty()) << path << " has no '# It fails' line";
  SimOptions broken;
  broken.bugs.*(GetParam().flag) = true;
  auto a = Simulation::Build(*config, config->seed, broken);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const SimResult with_bug = (*a)->Run(nullptr);
  ASSERT_FALSE(with_bug.ok()) << GetParam().bug << " passed the oracle";
  EXPECT_EQ(with_bug.signatures.front(), expected);
  auto b = Simulation::Build(*config, config->seed, SimOptions{});
  ASSERT_TRUE(b.ok());
  const SimResult clean = (*b)->Run(nullptr);
  EXPECT_TRUE(clean.ok()) << clean.violations.front();
}

INSTANTIATE_TEST_SUITE_P(
    Bugs, SwarmFoundWorld,
    ::testing::Values(
        FoundWorld{"skip_data_flush_before_journal", &TestBugs::skip_data_flush_before_journal},
        FoundWorld{"stale_before_journal", &TestBugs::stale_before_journal},
        FoundWorld{"cor_ignores_write_lock", &TestBugs::cor_ignores_write_lock},
        FoundWorld{"cor_skips_recheck", &TestBugs::cor_skips_recheck}),
    [](const auto& p) { return std::string(p.param.bug); });

}  // namespace
}  // namespace fvd::sim
