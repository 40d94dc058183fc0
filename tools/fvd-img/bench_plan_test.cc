#include "tools/fvd-img/bench_plan.h"

#include <gtest/gtest.h>

namespace fvd::img {
namespace {

BenchPlan Plan(uint64_t disk_size) {
  BenchPlan p;
  p.disk_size = disk_size;
  return p;
}

TEST(BenchPlanTest, RequestsStepFromTheOffsetAndWrapAtTheEndOfTheDisk) {
  BenchPlan p = Plan(16384);
  p.offset = 4096;
  p.buffer_size = 4096;
  EXPECT_EQ(BenchRequestOffset(p, 0), 4096u);
  EXPECT_EQ(BenchRequestOffset(p, 1), 8192u);
  EXPECT_EQ(BenchRequestOffset(p, 2), 12288u);
  EXPECT_EQ(BenchRequestOffset(p, 3), 0u);  // 16384 wraps to 0
  p.step = 12288;
  EXPECT_EQ(BenchRequestOffset(p, 1), 0u);  // (4096 + 12288) % 16384
  EXPECT_EQ(BenchRequestOffset(p, 2), 12288u);
}

TEST(BenchPlanTest, HugeStepsDoNotOverflow) {
  BenchPlan p = Plan(1ull << 40);
  p.step = (1ull << 40) - 512;  // one sector back each time
  EXPECT_EQ(BenchRequestOffset(p, 3), (1ull << 40) - 3 * 512);
  EXPECT_EQ(BenchRequestOffset(p, 1ull << 31), 0u);  // 2^31 sectors back: a whole lap
}

TEST(BenchPlanTest, BannerAndCompletionAreQemuImgBenchs) {
  BenchPlan p = Plan(1 << 30);
  EXPECT_EQ(BenchBanner(p),
            "Sending 75000 read requests, 4096 bytes each, 64 in parallel (starting at offset 0, "
            "step size 4096)");
  p.write = true;
  p.count = 10;
  p.depth = 1;
  p.step = 8192;
  p.offset = 512;
  EXPECT_EQ(BenchBanner(p),
            "Sending 10 write requests, 4096 bytes each, 1 in parallel (starting at offset 512, "
            "step size 8192)");
  EXPECT_EQ(BenchCompleted(1.23456), "Run completed in 1.235 seconds.");
}

TEST(BenchPlanTest, ImpossiblePlansAreErrorsNamingTheOption) {
  auto error = [](BenchPlan p) { return ValidateBenchPlan(p).message(); };
  EXPECT_TRUE(ValidateBenchPlan(Plan(1 << 20)).ok());
  BenchPlan p = Plan(1 << 20);
  p.count = 0;
  EXPECT_EQ(error(p), "-c (count) must be at least 1");
  p = Plan(1 << 20);
  p.depth = 0;
  EXPECT_EQ(error(p), "-d (depth) must be at least 1");
  p = Plan(1 << 20);
  p.buffer_size = 1000;
  EXPECT_EQ(error(p), "-s (buffer size) 1000 is not a multiple of 512");
  p = Plan(1 << 20);
  p.step = 100;
  EXPECT_EQ(error(p), "-S (step size) 100 is not a multiple of 512");
  p = Plan(4096);
  p.buffer_size = 8192;
  EXPECT_EQ(error(p), "-s (buffer size) 8192 is larger than the disk (4096 bytes)");
  p = Plan(4096);
  p.offset = 4096;
  EXPECT_EQ(error(p), "-o (offset) 4096 is not inside the disk (4096 bytes)");
}

TEST(BenchPlanTest, ARequestCrossingTheEndOfTheDiskIsAnError) {
  BenchPlan p = Plan(10240);  // 2.5 requests of 4 KiB
  p.count = 2;
  EXPECT_TRUE(ValidateBenchPlan(p).ok());
  p.count = 3;  // the third starts at 8192 and would end at 12288
  EXPECT_EQ(ValidateBenchPlan(p).message(),
            "request 3 at offset 8192 would cross the end of the disk (10240 bytes): choose -o "
            "and -S so that every request fits");
}

}  // namespace
}  // namespace fvd::img
