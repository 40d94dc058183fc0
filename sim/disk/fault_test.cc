#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "core/seam/memory_device.h"
#include "core/seam/virtual_loop.h"
#include "sim/disk/error_device.h"
#include "sim/disk/latency_spike.h"
#include "sim/disk/sim_disk.h"

namespace fvd::sim {
namespace {

uint64_t NowNs(const VirtualLoop& loop) {
  return static_cast<uint64_t>(loop.Now().time_since_epoch().count());
}

// Counts what reaches the device below a decorator.
class CountingDevice final : public BlockDevice {
 public:
  explicit CountingDevice(BlockDevice& inner) : inner_(inner) {}
  uint64_t size() const override { return inner_.size(); }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override {
    ++reads;
    return inner_.SubmitRead(offset, buf, std::move(done));
  }
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override {
    ++writes;
    return inner_.SubmitWrite(offset, buf, mode, std::move(done));
  }
  Status SubmitFlush(IoCallback done) override {
    ++flushes;
    return inner_.SubmitFlush(std::move(done));
  }
  Status SubmitResize(uint64_t new_size, IoCallback done) override {
    return inner_.SubmitResize(new_size, std::move(done));
  }
  int reads = 0, writes = 0, flushes = 0;

 private:
  BlockDevice& inner_;
};

// --- LatencySpikeDevice ---

class LatencySpikeTest : public ::testing::Test {
 protected:
  // Submits `n` reads at time 0 and returns their completion times.
  std::vector<uint64_t> ReadTimes(LatencySpikeDevice& dev, int n) {
    std::vector<uint64_t> times;
    std::vector<std::byte> buf(512);
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(dev.SubmitRead(0, buf,
                                 [&](Status s) {
                                   EXPECT_TRUE(s.ok());
                                   times.push_back(NowNs(loop));
                                 })
                      .ok());
    }
    loop.RunUntilIdle();
    return times;
  }

  VirtualLoop loop;
  MemoryDevice mem{loop, 1 << 20};  // completes with zero delay
};

TEST_F(LatencySpikeTest, ZeroProbabilityNeverDelays) {
  LatencySpikeDevice dev(mem, loop, {"d", 0, 5'000'000}, 1);
  EXPECT_EQ(ReadTimes(dev, 100), std::vector<uint64_t>(100, 0));
  EXPECT_EQ(dev.spikes(), 0u);
  EXPECT_EQ(dev.operations(), 100u);
}

TEST_F(LatencySpikeTest, CertainSpikeDelaysEveryCompletionByExtra) {
  LatencySpikeDevice dev(mem, loop, {"d", 1'000'000, 5'000'000}, 1);
  EXPECT_EQ(ReadTimes(dev, 10), std::vector<uint64_t>(10, 5'000'000));
  EXPECT_EQ(dev.spikes(), 10u);
}

TEST_F(LatencySpikeTest, DelayAddsToTheInnerLatencyAndIsNeverInline) {
  DiskConfig m;
  m.read_latency_ns = 100'000;
  m.bandwidth_bytes_per_s = 1'000'000'000;
  m.jitter_ns = 0;
  SimDisk disk(loop, m, 1 << 20, 0, 1, nullptr);
  LatencySpikeDevice dev(disk, loop, {"d", 1'000'000, 7'000}, 1);
  std::vector<std::byte> buf(4096);
  std::optional<uint64_t> at;
  ASSERT_TRUE(dev.SubmitRead(0, buf,
                             [&](Status s) {
                               EXPECT_TRUE(s.ok());
                               at = NowNs(loop);
                             })
                  .ok());
  EXPECT_FALSE(at.has_value());
  loop.RunUntilIdle();
  EXPECT_EQ(at, 100'000u + 4096u + 7'000u);
}

TEST_F(LatencySpikeTest, HalfTheOperationsSpikeAndTheSeedFixesWhich) {
  LatencySpikeDevice a(mem, loop, {"d", 500'000, 1'000}, 9);
  const auto times = ReadTimes(a, 1000);
  EXPECT_GT(a.spikes(), 400u);
  EXPECT_LT(a.spikes(), 600u);
  LatencySpikeDevice b(mem, loop, {"d", 500'000, 1'000}, 9);
  const uint64_t t0 = NowNs(loop);
  auto again = ReadTimes(b, 1000);
  for (auto& t : again) t -= t0;
  EXPECT_EQ(b.spikes(), a.spikes());
  std::sort(again.begin(), again.end());
  auto sorted = times;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(again, sorted);
}

TEST_F(LatencySpikeTest, RefusedSubmitPassesThroughWithoutCallback) {
  LatencySpikeDevice dev(mem, loop, {"d", 1'000'000, 1'000}, 1);
  std::vector<std::byte> buf(512);
  int calls = 0;
  EXPECT_EQ(dev.SubmitRead(mem.size(), buf, [&](Status) { ++calls; }).code(),
            StatusCode::kInvalidArgument);
  loop.RunUntilIdle();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(dev.operations(), 0u);
}

// --- ErrorDevice ---

class ErrorDeviceTest : public ::testing::Test {
 protected:
  std::unique_ptr<ErrorDevice> Make(ErrorConfig c, uint64_t seed = 1) {
    auto r = ErrorDevice::Create(counting, loop, c, seed);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  // Writes one byte-pattern block and returns the completion status.
  Status WriteAt(BlockDevice& dev, uint64_t offset, uint8_t v = 1) {
    std::vector<std::byte> buf(4096, std::byte{v});
    std::optional<Status> out;
    Status s = dev.SubmitWrite(offset, buf, WriteMode::kCached, [&](Status st) { out = st; });
    if (!s.ok()) return s;
    EXPECT_FALSE(out.has_value()) << "completed inline";
    loop.RunUntilIdle();
    return *out;
  }
  Status ReadAt(BlockDevice& dev, uint64_t offset) {
    std::vector<std::byte> buf(4096);
    std::optional<Status> out;
    Status s = dev.SubmitRead(offset, buf, [&](Status st) { out = st; });
    if (!s.ok()) return s;
    EXPECT_FALSE(out.has_value()) << "completed inline";
    loop.RunUntilIdle();
    return *out;
  }
  Status Flush(BlockDevice& dev) {
    std::optional<Status> out;
    Status s = dev.SubmitFlush([&](Status st) { out = st; });
    if (!s.ok()) return s;
    loop.RunUntilIdle();
    return *out;
  }

  VirtualLoop loop;
  MemoryDevice mem{loop, 1 << 20};
  CountingDevice counting{mem};
};

TEST_F(ErrorDeviceTest, FailsOnlyTheNamedOpWithoutReachingTheDevice) {
  auto dev = Make({.disk = "d", .op = "write", .count = 0});
  const Status s = WriteAt(*dev, 8192, 7);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), "injected error on write at 8192");
  EXPECT_EQ(counting.writes, 0);
  std::vector<std::byte> buf(4096);
  mem.ReadNow(8192, buf);
  EXPECT_EQ(buf, std::vector<std::byte>(4096));  // the bytes below never changed
  EXPECT_TRUE(ReadAt(*dev, 8192).ok());
  EXPECT_TRUE(Flush(*dev).ok());
  EXPECT_EQ(counting.reads, 1);
  EXPECT_EQ(counting.flushes, 1);
  EXPECT_EQ(dev->injected_errors(), 1u);
}

TEST_F(ErrorDeviceTest, RangeFilterChoosesOverlappingRequests) {
  auto dev =
      Make({.disk = "d", .op = "any", .offset_bytes = 10000, .length_bytes = 100, .count = 0});
  EXPECT_TRUE(WriteAt(*dev, 0).ok());
  EXPECT_TRUE(WriteAt(*dev, 12288).ok());
  EXPECT_EQ(WriteAt(*dev, 8192).code(), StatusCode::kIoError);  // [8192, 12288) meets it
  EXPECT_EQ(ReadAt(*dev, 8192).code(), StatusCode::kIoError);
  EXPECT_EQ(counting.writes, 2);
  EXPECT_EQ(counting.reads, 0);
  EXPECT_EQ(dev->matched_ops(), 2u);
}

TEST_F(ErrorDeviceTest, AfterOpsAndCountBoundTheErrors) {
  auto dev = Make({.disk = "d", .op = "write", .after_ops = 3, .count = 2});
  std::vector<StatusCode> codes;
  for (int i = 0; i < 8; ++i) codes.push_back(WriteAt(*dev, 0).code());
  const auto ok = StatusCode::kOk, eio = StatusCode::kIoError;
  EXPECT_EQ(codes, (std::vector<StatusCode>{ok, ok, ok, eio, eio, ok, ok, ok}));
  EXPECT_EQ(counting.writes, 6);
  EXPECT_EQ(dev->injected_errors(), 2u);
  EXPECT_EQ(dev->matched_ops(), 8u);
}

TEST_F(ErrorDeviceTest, ReadsDoNotCountTowardsAWriteRule) {
  auto dev = Make({.disk = "d", .op = "write", .after_ops = 1, .count = 1});
  EXPECT_TRUE(ReadAt(*dev, 0).ok());
  EXPECT_TRUE(ReadAt(*dev, 0).ok());
  EXPECT_TRUE(WriteAt(*dev, 0).ok());
  EXPECT_EQ(WriteAt(*dev, 0).code(), StatusCode::kIoError);
}

TEST_F(ErrorDeviceTest, FlushRuleIgnoresTheRangeAndUnlimitedCountKeepsFailing) {
  auto dev =
      Make({.disk = "d", .op = "flush", .offset_bytes = 4096, .length_bytes = 4096, .count = 0});
  for (int i = 0; i < 5; ++i) {
    const Status s = Flush(*dev);
    EXPECT_EQ(s.code(), StatusCode::kIoError);
    EXPECT_EQ(s.message(), "injected error on flush at 0");
  }
  EXPECT_EQ(counting.flushes, 0);
  EXPECT_TRUE(WriteAt(*dev, 4096).ok());
}

TEST_F(ErrorDeviceTest, AHeldGateStopsInjectingAndCountingUntilReleased) {
  FaultGate gate;
  auto r = ErrorDevice::Create(counting, loop,
                               {.disk = "d", .op = "write", .after_ops = 1, .count = 0}, 1, &gate);
  ASSERT_TRUE(r.ok());
  auto& dev = **r;
  EXPECT_TRUE(WriteAt(dev, 0).ok());  // the one op after_ops lets through
  {
    FaultGateHold hold(&gate);
    FaultGateHold again(&gate);  // holds nest
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(WriteAt(dev, 0).ok());
    EXPECT_EQ(dev.matched_ops(), 1u) << "held: nothing counts";
  }
  EXPECT_TRUE(gate.open());
  EXPECT_EQ(WriteAt(dev, 0).code(), StatusCode::kIoError);
  EXPECT_EQ(dev.injected_errors(), 1u);
  EXPECT_EQ(counting.writes, 4);
}

TEST_F(ErrorDeviceTest, ProbabilityZeroNeverFailsAndHalfFailsSome) {
  auto never = Make({.disk = "d", .op = "any", .probability_ppm = 0, .count = 0});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(WriteAt(*never, 0).ok());
  auto half = Make({.disk = "d", .op = "any", .probability_ppm = 500'000, .count = 0}, 3);
  int failed = 0;
  for (int i = 0; i < 400; ++i) failed += WriteAt(*half, 0).ok() ? 0 : 1;
  EXPECT_GT(failed, 150);
  EXPECT_LT(failed, 250);
  EXPECT_EQ(half->injected_errors(), static_cast<uint64_t>(failed));
}

TEST_F(ErrorDeviceTest, BadArgumentsFailAtSubmitAndUnknownOpIsRefused) {
  auto dev = Make({.disk = "d", .op = "any", .count = 0});
  EXPECT_EQ(WriteAt(*dev, mem.size()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dev->matched_ops(), 0u);
  auto bad = ErrorDevice::Create(counting, loop, {.disk = "d", .op = "trim"}, 1);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fvd::sim
