// The oracle catches a deliberately broken engine: crash-storm.yaml with the data flush before
// journal writes skipped (core/image/test_bugs.h) must report violations within its first
// seeds, and the same runs without the bug must not. Built only against fvd_sim_testbugs.
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

}  // namespace
}  // namespace fvd::sim
