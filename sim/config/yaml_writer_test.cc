#include "sim/config/yaml_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "sim/config/workload_test_data.h"
#include "sim/config/yaml_loader.h"

namespace fvd::sim {
namespace {

WorkloadConfig LoadOrDie(const std::string& text, const std::string& name) {
  auto r = LoadWorkloadText(text, name);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << text;
  return r.ok() ? *r : WorkloadConfig{};
}

// Written, then loaded again: the same config, field for field.
void ExpectRoundTrip(const WorkloadConfig& c) {
  const std::string text = WriteWorkloadYaml(c);
  const WorkloadConfig again = LoadOrDie(text, "written.yaml");
  EXPECT_TRUE(again == c) << text;
  // Writing is a function of the config: the second file is the first.
  EXPECT_EQ(WriteWorkloadYaml(again), text);
}

TEST(WriteWorkloadYaml, EveryKeyRoundTrips) {
  ExpectRoundTrip(LoadOrDie(kFullWorkload, "full.yaml"));
}

TEST(WriteWorkloadYaml, EveryShippedWorkloadRoundTrips) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(FVD_WORKLOADS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    auto c = LoadWorkloadFile(entry.path().string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ExpectRoundTrip(*c);
    ++files;
  }
  EXPECT_GE(files, 10);
}

// Values no hand-written file uses: odd units, the prefetch tuning, extreme numbers.
TEST(WriteWorkloadYaml, ValuesInAnyUnitRoundTrip) {
  WorkloadConfig c;
  c.name = "odd: a name with a colon";
  c.seed = 18'446'744'073'709'551'615ull;
  c.max_time_ns = 1'500'001;  // not a whole microsecond
  DiskConfig d;
  d.name = "d";
  d.preset = "hdd";
  d.read_latency_ns = 0;
  d.bandwidth_bytes_per_s = 123'456'789;
  d.queue_depth = 1;
  d.size_bytes = 512 * 3;
  c.disks.push_back(d);
  c.bases.push_back({.name = "b", .disk = "d", .size_bytes = 1536, .nonzero_bytes = 512});
  VmConfig vm;
  vm.name = "vm";
  vm.count = 2;
  vm.base = "b";
  vm.disk = "d";
  vm.start_ns = 7;
  vm.image.prefetch_slots = 1024;
  vm.image.prefetch_slot_bytes = 1536;
  vm.image.prefetch_min_read_bytes_per_s = 1024 * 3;
  vm.image.prefetch_max_write_bytes_per_s = 2048;
  vm.image.prefetch_throttle_ns = 0;
  vm.image.prefetch_measure_ns = 7'000'000;
  vm.image.prefetch_alpha_percent = 0;
  vm.image.prefetch_queue_target_ns = 1'500'000;
  vm.image.prefetch_control = "window";
  vm.image.prefetch_read_bytes = 4096;
  vm.image.prefetch_window_max = 3;
  vm.image.record_prefetch_profile = true;
  vm.image.profile_prefetch_delay_s = 0;
  vm.image.journal_size_bytes = 0;
  PhaseConfig p;
  p.kind = "random";
  p.ops = 1;
  p.sizes = {{512, 1}, {1536, 4'000'000'000u}};
  p.zipf_theta = 0.123456789012345;
  p.read_percent = 0;
  vm.phases = {p, PhaseConfig{.kind = "boot", .sizes = {{8192, 3}}, .working_set_bytes = 512}};
  c.vms.push_back(vm);
  c.latency_spikes.push_back({.disk = "d", .probability_ppm = 1, .extra_ns = 1});
  c.errors.push_back({.disk = "d", .op = "any", .probability_ppm = 123'456, .count = 0});
  c.crashes.push_back({.vm = "vm-1", .at_ns = {0, 1, 60'000'000'000}, .max_crashes = 1,
                       .fates = {.survive = 0, .lose = 1, .tear = 0}});
  ExpectRoundTrip(c);
}

TEST(WriteWorkloadYaml, WritesWhatAPersonWouldAndOnlyWhatDiffers) {
  const WorkloadConfig c = LoadOrDie(R"(disks:
  - {name: d, preset: ssd, queue_depth: 64}
vms:
  - name: vm
    disk: d
    image: {journal_size: 64KiB, journal_flush_period: 1500ms}
    phases:
      - {kind: random, ops: 10, sizes: {4KiB: 80, 64KiB: 20}}
crashes:
  - {random_per_hour: 12000}
)",
                                     "w.yaml");
  const std::string text = WriteWorkloadYaml(c, "chosen by --swarm\nseed 7");
  EXPECT_EQ(text.rfind("# chosen by --swarm\n# seed 7\n", 0), 0u) << text;
  EXPECT_NE(text.find("preset: ssd"), std::string::npos) << text;
  EXPECT_NE(text.find("queue_depth: 64"), std::string::npos) << text;
  EXPECT_EQ(text.find("read_latency"), std::string::npos) << "the preset's own figure\n" << text;
  EXPECT_NE(text.find("journal_size: 64KiB"), std::string::npos) << text;
  EXPECT_NE(text.find("journal_flush_period: 1500ms"), std::string::npos) << text;
  EXPECT_NE(text.find("{4KiB: 80, 64KiB: 20}"), std::string::npos) << text;
  EXPECT_EQ(text.find("copy_on_read"), std::string::npos) << "a default\n" << text;
  EXPECT_NE(text.find("seed: 1"), std::string::npos) << "the seed is always written\n" << text;
}

}  // namespace
}  // namespace fvd::sim
