#include "core/seam/memory_device.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/seam/sync_io.h"
#include "core/seam/virtual_loop.h"

namespace fvd {
namespace {

class MemoryDeviceTest : public ::testing::Test {
 protected:
  VirtualLoop loop;
  LoopDriver drive = [this](const std::function<bool()>& done) { loop.RunUntil(done); };
};

std::vector<std::byte> Pattern(size_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(seed + i * 7);
  return v;
}

TEST_F(MemoryDeviceTest, UnwrittenReadsZerosAndWritesReadBack) {
  MemoryDevice dev(loop, 1 << 20);
  std::vector<std::byte> buf(10000, std::byte{0x55});
  ASSERT_TRUE(SyncRead(dev, drive, 1000, buf).ok());
  for (std::byte b : buf) ASSERT_EQ(b, std::byte{0});
  const auto data = Pattern(10000, 3);  // spans three pages, unaligned
  ASSERT_TRUE(SyncWrite(dev, drive, 1000, data).ok());
  ASSERT_TRUE(SyncRead(dev, drive, 1000, buf).ok());
  EXPECT_EQ(buf, data);
}

TEST_F(MemoryDeviceTest, CompletionNeverInline) {
  MemoryDevice dev(loop, 4096);
  std::vector<std::byte> buf(512);
  bool called = false;
  ASSERT_TRUE(dev.SubmitRead(0, buf,
                             [&](Status s) {
                               EXPECT_TRUE(s.ok());
                               called = true;
                             })
                  .ok());
  EXPECT_FALSE(called);
  loop.RunUntilIdle();
  EXPECT_TRUE(called);
}

TEST_F(MemoryDeviceTest, OutOfRangeFailsAtSubmitAndNeverCallsBack) {
  MemoryDevice dev(loop, 4096);
  std::vector<std::byte> buf(512);
  int calls = 0;
  const Status s = dev.SubmitWrite(4000, buf, WriteMode::kCached, [&](Status) { ++calls; });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  loop.RunUntilIdle();
  EXPECT_EQ(calls, 0);
}

TEST_F(MemoryDeviceTest, SparseTerabyteHoldsOnlyWhatWasWritten) {
  MemoryDevice dev(loop, 1ull << 40);
  const auto mib = Pattern(1 << 20, 1);
  ASSERT_TRUE(SyncWrite(dev, drive, 700ull << 30, mib).ok());
  EXPECT_EQ(dev.allocated_bytes(), 1u << 20);
}

TEST_F(MemoryDeviceTest, ShrinkThenGrowReadsZeros) {
  MemoryDevice dev(loop, 16384);
  const auto data = Pattern(16384, 9);
  ASSERT_TRUE(SyncWrite(dev, drive, 0, data).ok());
  ASSERT_TRUE(SyncResize(dev, drive, 5000).ok());
  ASSERT_TRUE(SyncResize(dev, drive, 16384).ok());
  std::vector<std::byte> buf(16384);
  ASSERT_TRUE(SyncRead(dev, drive, 0, buf).ok());
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 5000, data.begin()));
  for (size_t i = 5000; i < buf.size(); ++i) ASSERT_EQ(buf[i], std::byte{0}) << i;
}

}  // namespace
}  // namespace fvd
