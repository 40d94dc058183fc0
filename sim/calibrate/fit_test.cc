#include "sim/calibrate/fit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "sim/config/yaml_loader.h"

namespace fvd::sim::calibrate {
namespace {

// What the probes would measure on a disk that is exactly the model: 90 us reads, 20 us
// writes (150 us with FUA), 1 ms flushes, 400 MB/s, 12 us of jitter, 8 slots; into fresh space
// 70 us writes and 3 ms flushes; at depth one write per 25 us, into fresh space per 50 us.
Measured OfTheModel() {
  const double t4k = 4096 * 1e9 / 400e6, t64k = 65536 * 1e9 / 400e6;
  Measured m;
  m.read_4k_ns = 90'000 + t4k + 6'000;
  m.read_4k_stddev_ns = 12'000 / std::sqrt(12.0);
  m.read_64k_ns = 90'000 + t64k + 6'000;
  m.read_4k_qd32_iops = 8 / (m.read_4k_ns / 1e9);
  m.seq_read_bytes_per_s = 400e6;
  m.write_4k_ns = 20'000 + t4k + 6'000;
  m.flush_ns = 1'000'000;
  m.fua_write_4k_ns = 150'000 + t4k + 6'000;
  m.fresh_write_4k_ns = 70'000 + t4k + 6'000;
  m.fresh_flush_ns = 3'000'000;
  m.write_4k_qd32_iops = 40'000;
  m.fresh_write_4k_qd32_iops = 20'000;
  m.fua_write_4k_qd4_iops = 10'000;
  m.fresh_fua_write_4k_qd4_iops = 5'000;
  m.host_cpu_per_request_ns = 31'000.4;
  m.fresh_write_host_cpu_ns = 52'000;
  return m;
}

TEST(FitModel, RecoversTheFiguresOfADiskThatIsTheModel) {
  const DiskConfig d = FitModel(OfTheModel());
  EXPECT_NEAR(static_cast<double>(d.read_latency_ns), 90'000, 1);
  EXPECT_NEAR(static_cast<double>(d.write_latency_ns), 20'000, 1);
  EXPECT_EQ(d.flush_latency_ns, 1'000'000u);
  EXPECT_EQ(d.bandwidth_bytes_per_s, 400'000'000u);
  EXPECT_NEAR(static_cast<double>(d.jitter_ns), 12'000, 1);
  EXPECT_EQ(d.queue_depth, 8u);
  EXPECT_TRUE(d.volatile_cache);
  EXPECT_NEAR(static_cast<double>(d.fua_write_latency_ns), 150'000, 1);
  EXPECT_NEAR(static_cast<double>(d.fresh_write_latency_ns), 70'000, 1);
  EXPECT_EQ(d.fresh_flush_latency_ns, 3'000'000u);
  EXPECT_EQ(d.write_service_ns, 25'000u);
  EXPECT_EQ(d.fresh_write_service_ns, 50'000u);
  EXPECT_EQ(d.fua_write_service_ns, 100'000u);
  EXPECT_EQ(d.fresh_fua_write_service_ns, 200'000u);
  EXPECT_EQ(d.host_cost_ns, 31'000u);
  EXPECT_EQ(d.fresh_write_host_cost_ns, 52'000u);
}

TEST(FitModel, FreshSpaceNotMeasuredIsNoDifference) {
  Measured m = OfTheModel();
  m.fresh_write_4k_ns = 0;  // a block device: no sparse file to probe
  m.fresh_flush_ns = 0;
  m.fresh_write_4k_qd32_iops = 0;
  m.fresh_fua_write_4k_qd4_iops = 0;
  const DiskConfig d = FitModel(m);
  EXPECT_EQ(d.fresh_write_latency_ns, 0u);
  EXPECT_EQ(d.fresh_flush_latency_ns, 0u);
  EXPECT_EQ(d.fresh_write_service_ns, 0u);
  EXPECT_EQ(d.fresh_fua_write_service_ns, 0u);
  EXPECT_EQ(d.write_service_ns, 25'000u);  // measured on the filled file all the same
  EXPECT_EQ(d.fua_write_service_ns, 100'000u);
  m.host_cpu_per_request_ns = 0;  // nor real mode's probe (it needs a file system)
  m.fresh_write_host_cpu_ns = 0;
  EXPECT_EQ(FitModel(m).host_cost_ns, 0u);
  EXPECT_EQ(FitModel(m).fresh_write_host_cost_ns, 0u);
}

TEST(FitModel, WritesAtDepthNotMeasuredHaveNoService) {
  Measured m = OfTheModel();
  m.write_4k_qd32_iops = 0;  // a failed probe
  EXPECT_EQ(FitModel(m).write_service_ns, 0u);
}

TEST(FitModel, StaysWithinWhatTheModelCanBe) {
  Measured m = OfTheModel();
  m.flush_ns = 5'000;          // a flush cheaper than a write: no volatile cache
  m.read_4k_stddev_ns = 1e9;   // jitter cannot exceed the latency it rides on
  m.read_4k_qd32_iops = 1e12;  // more slots than the deepest probe can show
  const DiskConfig d = FitModel(m);
  EXPECT_FALSE(d.volatile_cache);
  EXPECT_LE(d.jitter_ns, static_cast<uint64_t>(m.read_4k_ns));
  EXPECT_EQ(d.queue_depth, 32u);
  m.read_4k_qd32_iops = 0;  // a failed probe: one slot, not zero
  EXPECT_EQ(FitModel(m).queue_depth, 1u);
}

TEST(ModelYaml, IsADiskModelTheLoaderTakes) {
  DiskConfig d = FitModel(OfTheModel());
  const std::string text = ModelYaml(d, "measured here\nand there");
  EXPECT_EQ(text.rfind("# measured here\n# and there\n", 0), 0u) << text;
  // As a disk entry's keys, inline: the same figures come back.
  std::string entry = "disks:\n  - name: d\n";
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind('#', 0) != 0) entry += "    " + line + "\n";
  }
  entry += "vms: [{name: vm, disk: d, image: {size: 1MiB}, phases: [{kind: random, ops: 1}]}]\n";
  auto w = LoadWorkloadText(entry, "w.yaml");
  ASSERT_TRUE(w.ok()) << w.status().ToString() << "\n" << entry;
  d.name = "d";
  EXPECT_EQ(w->disks[0], d);
}

}  // namespace
}  // namespace fvd::sim::calibrate
