// The oracle catches a deliberately broken engine: crash-storm.yaml with the data flush before
// journal writes skipped (core/image/test_bugs.h) must report violations, and the same run
// without the bug must not. Built only against fvd_sim_testbugs.
#include <gtest/gtest.h>

#include <cstdio>

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
  // Whether a crash exposes the bug depends on which cached writes it keeps, so not every
  // seed does; the workload's own seed (1) must, and most seeds must.
  int caught = 0;
  bool default_seed_caught = false;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const SimResult clean = RunCrashStorm(seed, false);
    EXPECT_TRUE(clean.ok()) << "seed " << seed << ": " << clean.violations.front();
    const SimResult broken = RunCrashStorm(seed, true);
    if (!broken.ok()) ++caught;
    if (seed == 1) default_seed_caught = !broken.ok();
    std::printf("seed %d: broken engine %s\n", static_cast<int>(seed),
                broken.ok() ? "passed (not caught)" : broken.violations.front().c_str());
  }
  EXPECT_TRUE(default_seed_caught) << "fvdsim run crash-storm.yaml would pass a broken engine";
  EXPECT_GE(caught, 2) << "the broken engine passed the oracle on most seeds";
}

}  // namespace
}  // namespace fvd::sim
