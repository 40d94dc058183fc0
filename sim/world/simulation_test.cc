// The simulator end to end on small workloads: determinism (same seed, same digest; another
// seed, another digest), crash recovery checked by the oracle, and clean runs of every shipped
// workload on a small budget.
#include "sim/world/simulation.h"

#include <gtest/gtest.h>

#include "sim/config/yaml_loader.h"
#include "sim/world/vm.h"

namespace fvd::sim {
namespace {

constexpr const char* kSmall = R"(
name: small
seed: 7
max_time: 20s
disks:
  - {name: ssd, preset: ssd}
  - {name: net, preset: network}
bases:
  - {name: base, disk: net, size: 64MiB, nonzero: 8MiB}
vms:
  - name: vm
    count: 2
    base: base
    disk: ssd
    image: {journal_size: 64KiB, copy_on_read: true}
    phases:
      - {kind: boot, working_set: 4MiB, sizes: {4KiB: 3, 64KiB: 1}, think_time: 100us}
      - {kind: random, ops: 2000, queue_depth: 8, read_percent: 50, sizes: {4KiB: 4, 16KiB: 1}}
      - {kind: database, ops: 500, queue_depth: 4, read_percent: 20, flush_every_writes: 8}
)";

constexpr const char* kCrashy = R"(
name: crashy
seed: 3
max_time: 30s
disks:
  - {name: ssd, preset: ssd}
vms:
  - name: db
    disk: ssd
    image: {size: 32MiB, compact: true, chunk_size: 64KiB, journal_size: 16KiB}
    phases:
      - {kind: database, duration: 5s, queue_depth: 4, read_percent: 30, flush_every_writes: 4}
crashes:
  - {vm: db, at: [200ms, 700ms, 1500ms, 2600ms, 4000ms]}
)";

constexpr const char* kAfterOps = R"(
name: after-ops
seed: 5
max_time: 30s
disks:
  - {name: ssd, preset: ssd}
vms:
  - name: db
    disk: ssd
    image: {size: 16MiB, compact: true, chunk_size: 64KiB, journal_size: 16KiB}
    phases:
      - {kind: database, ops: 6000, queue_depth: 4, read_percent: 30, flush_every_writes: 4}
crashes:
  - {vm: db, after_ops: 700, op: write, max_crashes: 3}
)";

SimResult RunText(const char* text, uint64_t seed) {
  auto config = LoadWorkloadText(text, "test.yaml");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  auto sim = Simulation::Build(*config, seed);
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  return (*sim)->Run(nullptr);
}

// Nearest rank: the p-th percentile of n values is the ceil(p / 100 * n)-th smallest.
TEST(LatencyLogTest, PercentilesAreNearestRanks) {
  LatencyLog log;
  EXPECT_EQ(log.Percentile(50), 0u);
  for (uint64_t v : {70, 10, 100, 40, 20, 90, 30, 60, 50, 80}) log.Add(v);  // 10..100, shuffled
  EXPECT_EQ(log.Percentile(50), 50u);                                       // the 5th
  EXPECT_EQ(log.Percentile(51), 60u);                                       // ceil(5.1) = the 6th
  EXPECT_EQ(log.Percentile(99), 100u);                                      // ceil(9.9) = the 10th
  EXPECT_EQ(log.Percentile(0), 10u);                                        // at least the 1st
  EXPECT_EQ(log.Percentile(100), 100u);
  // Since entry 6 (90, 30, 60, 50, 80): the 3rd of 30, 50, 60, 80, 90.
  EXPECT_EQ(log.Percentile(50, 5), 60u);
  EXPECT_EQ(log.Max(), 100u);
}

TEST(SimulationTest, SameSeedSameDigestOtherSeedOtherDigest) {
  const SimResult a = RunText(kSmall, 7), b = RunText(kSmall, 7), c = RunText(kSmall, 8);
  ASSERT_TRUE(a.ok()) << a.violations.front();
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.sim_time_ns, b.sim_time_ns);
  EXPECT_NE(a.digest, c.digest);
  ASSERT_EQ(a.vms.size(), 2u);
  EXPECT_GT(a.vms[0].stats.reads, 0u);
  EXPECT_GT(a.vms[0].stats.writes, 0u);
  EXPECT_GT(a.vms[0].stats.flushes, 0u);
  EXPECT_GT(a.vms[0].image.base_bytes_read, 0u);
}

TEST(SimulationTest, CrashesAreRecoveredAndChecked) {
  const SimResult r = RunText(kCrashy, 3);
  EXPECT_TRUE(r.ok()) << (r.violations.empty() ? "" : r.violations.front());
  EXPECT_EQ(r.crashes, 5u);
  ASSERT_EQ(r.vms.size(), 1u);
  EXPECT_GT(r.vms[0].stats.writes, 100u);
  // Reopening replays the journal over the simulated disk's latency: it takes virtual time.
  EXPECT_GT(r.vms[0].stats.recovery_ns_max, 0u);
}

// An error armed from the very first write hits the workload, not the image's first open
// (whose header write it would otherwise fail: swarm seed 4046).
TEST(SimulationTest, ErrorsSpareTheFirstOpen) {
  const SimResult r = RunText(R"(
name: first-write-fails
seed: 1
disks:
  - {name: ssd, preset: ssd}
vms:
  - name: vm
    disk: ssd
    image: {size: 16MiB, journal_size: 64KiB}
    phases:
      - {kind: random, ops: 200, queue_depth: 4, read_percent: 50, flush_every_writes: 8}
errors:
  - {disk: ssd, op: write, after_ops: 0, count: 1}
)",
                              1);
  EXPECT_TRUE(r.ok()) << (r.violations.empty() ? "" : r.violations.front());
  ASSERT_EQ(r.vms.size(), 1u);
  EXPECT_GT(r.vms[0].stats.writes, 0u);
  EXPECT_EQ(r.vms[0].stats.failed_ops, 1u);  // the workload met the error
}

// Worlds that once failed with the correct engine (each file's header says how it failed and
// what fixed it): every check must pass.
TEST(SimulationTest, WorldsThatFoundEngineBugsPass) {
  for (const char* name : {"recycle_bitmap_before_table"}) {
    const std::string path = std::string(FVD_SIM_TESTDATA_DIR) + "/fixed/" + name + ".yaml";
    auto config = LoadWorkloadFile(path);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto sim = Simulation::Build(*config, config->seed);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    const SimResult r = (*sim)->Run(nullptr);
    EXPECT_TRUE(r.ok()) << name << ": " << (r.violations.empty() ? "" : r.violations.front());
    EXPECT_GT(r.crashes, 0u) << name;
  }
}

TEST(SimulationTest, CrashAfterNWritesOfTheImageDisk) {
  const SimResult r = RunText(kAfterOps, 5);
  EXPECT_TRUE(r.ok()) << (r.violations.empty() ? "" : r.violations.front());
  EXPECT_EQ(r.crashes, 3u);  // every 700 device writes, at most 3 times
}

}  // namespace
}  // namespace fvd::sim
