#include "sim/explore/edits.h"

#include <gtest/gtest.h>

#include <map>

#include "sim/config/yaml_loader.h"
#include "sim/config/yaml_writer.h"
#include "sim/swarm/world.h"

namespace fvd::sim::explore {
namespace {

// Every edit of every world leaves a world the loader accepts (references kept whole), and
// changes it.
void ExpectEveryEditValid(const WorkloadConfig& w) {
  const std::vector<Edit> edits = Edits(w);
  EXPECT_FALSE(edits.empty());
  for (const Edit& e : edits) {
    WorkloadConfig c = w;
    if (!e.apply(c)) continue;
    EXPECT_FALSE(c == w) << e.what << " said it changed the world";
    auto loaded = LoadWorkloadText(WriteWorkloadYaml(c), "edited.yaml");
    EXPECT_TRUE(loaded.ok()) << e.what << ": " << loaded.status().ToString();
  }
}

// Each edit that applies to `w`, by what it says, and the world it makes.
std::map<std::string, WorkloadConfig> EditedWorlds(const WorkloadConfig& w) {
  ExpectEveryEditValid(w);
  std::map<std::string, WorkloadConfig> edited;
  for (const Edit& e : Edits(w)) {
    WorkloadConfig c = w;
    if (e.apply(c)) edited.emplace(e.what, c);
  }
  return edited;
}

TEST(Edits, EveryEditOfADrawnWorldIsAValidWorld) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    auto w = swarm::DrawWorld({}, seed, "t");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    SCOPED_TRACE("seed " + std::to_string(seed));
    ExpectEveryEditValid(*w);
  }
}

TEST(Edits, DroppingAGroupTakesItsCrashesAndProfilesAlong) {
  auto w = LoadWorkloadText(R"(disks: [{name: d}, {name: s, preset: network}]
bases: [{name: b, disk: s, size: 8MiB}]
vms:
  - {name: a, base: b, disk: d, image: {record_prefetch_profile: true},
     phases: [{kind: random, ops: 10}]}
  - {name: c, count: 2, base: b, disk: d, image: {prefetch_profile_from: a, profile_prefetch_delay: 1s},
     phases: [{kind: random, ops: 10}, {kind: idle, duration: 1s}]}
crashes: [{vm: a, at: 1s}, {vm: c-1, at: 2s}, {at: 3s}]
)",
                            "w.yaml");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ExpectEveryEditValid(*w);
  for (const Edit& e : Edits(*w)) {
    WorkloadConfig c = *w;
    if (e.what == "drop VM group a") {
      ASSERT_TRUE(e.apply(c));
      EXPECT_EQ(c.vms.size(), 1u);
      EXPECT_EQ(c.crashes.size(), 2u);
      EXPECT_EQ(c.vms[0].image.prefetch_profile_from, "");
    }
    if (e.what == "one VM in group c") {
      ASSERT_TRUE(e.apply(c));
      EXPECT_EQ(c.vms[1].count, 1u);
      EXPECT_EQ(c.crashes.size(), 2u) << "the crash of c-1 goes";
    }
    if (e.what == "drop base b") {
      ASSERT_TRUE(e.apply(c));
      EXPECT_TRUE(c.bases.empty());
      EXPECT_EQ(c.vms[0].image.size_bytes, 8u << 20);
      EXPECT_EQ(c.vms[0].base, "");
    }
  }
}

TEST(Edits, FaultEntriesComeNearerAndSurer) {
  auto w = LoadWorkloadText(R"(disks: [{name: d}]
vms: [{name: a, disk: d, image: {size: 8MiB}, phases: [{kind: random, ops: 10}]}]
errors: [{disk: d, probability: 10%, after_ops: 210, count: 5}]
crashes: [{vm: a, after_ops: 7}]
)",
                            "w.yaml");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::map<std::string, WorkloadConfig> edited = EditedWorlds(*w);
  ASSERT_EQ(edited.count("halve after_ops of I/O error entry 0"), 1u);
  EXPECT_EQ(edited.at("halve after_ops of I/O error entry 0").errors[0].after_ops, 105u);
  ASSERT_EQ(edited.count("probability 100% of I/O error entry 0"), 1u);
  EXPECT_EQ(edited.at("probability 100% of I/O error entry 0").errors[0].probability_ppm,
            1'000'000u);
  ASSERT_EQ(edited.count("halve the count of I/O error entry 0"), 1u);
  EXPECT_EQ(edited.at("halve the count of I/O error entry 0").errors[0].count, 2u);
  ASSERT_EQ(edited.count("halve after_ops of crash entry 0"), 1u);
  EXPECT_EQ(edited.at("halve after_ops of crash entry 0").crashes[0].after_ops, 3u);
  // Where halving overshoots, a quarter off (at least one) comes nearer in smaller steps.
  ASSERT_EQ(edited.count("a quarter off after_ops of I/O error entry 0"), 1u);
  EXPECT_EQ(edited.at("a quarter off after_ops of I/O error entry 0").errors[0].after_ops, 158u);
  ASSERT_EQ(edited.count("a quarter off after_ops of crash entry 0"), 1u);
  EXPECT_EQ(edited.at("a quarter off after_ops of crash entry 0").crashes[0].after_ops, 6u);
  // At their floors they offer nothing more: one error, no operations before it, for sure.
  WorkloadConfig floor = *w;
  floor.errors[0] = {.disk = "d", .probability_ppm = 1'000'000, .after_ops = 0, .count = 1};
  floor.crashes[0].after_ops = 1;
  for (const Edit& e : Edits(floor)) {
    WorkloadConfig c = floor;
    if (e.what.find("I/O error entry 0") != std::string::npos && e.what.rfind("drop", 0) != 0) {
      EXPECT_FALSE(e.apply(c)) << e.what;
    }
    if (e.what.find("after_ops of crash entry 0") != std::string::npos) {
      EXPECT_FALSE(e.apply(c));
    }
  }
}

TEST(Edits, JournalAndOpsShrinkInSteps) {
  auto w = LoadWorkloadText(R"(disks: [{name: d}]
vms: [{name: a, disk: d, image: {size: 8MiB, journal_size: 16KiB},
       phases: [{kind: random, ops: 10}]}]
)",
                            "w.yaml");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::map<std::string, WorkloadConfig> edited = EditedWorlds(*w);
  ASSERT_EQ(edited.count("halve the journal in a"), 1u);
  EXPECT_EQ(edited.at("halve the journal in a").vms[0].image.journal_size_bytes, 8u << 10);
  ASSERT_EQ(edited.count("no journal in a"), 1u);
  EXPECT_EQ(edited.at("no journal in a").vms[0].image.journal_size_bytes, 0u);
  ASSERT_EQ(edited.count("a quarter off the ops in phase 0 of a"), 1u);
  EXPECT_EQ(edited.at("a quarter off the ops in phase 0 of a").vms[0].phases[0].ops, 8u);
  // The smallest journal swarm draws (4 KiB) is as small as halving goes; one op is the floor.
  WorkloadConfig floor = *w;
  floor.vms[0].image.journal_size_bytes = 4096;
  floor.vms[0].phases[0].ops = 1;
  for (const Edit& e : Edits(floor)) {
    WorkloadConfig c = floor;
    if (e.what == "halve the journal in a" || e.what.find("the ops in") != std::string::npos) {
      EXPECT_FALSE(e.apply(c)) << e.what;
    }
  }
}

}  // namespace
}  // namespace fvd::sim::explore
