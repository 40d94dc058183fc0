#include "core/seam/virtual_loop.h"

#include <gtest/gtest.h>

#include <vector>

namespace fvd {
namespace {

using std::chrono::microseconds;

TEST(VirtualLoopTest, RunsInTimeOrderAndAdvancesTime) {
  VirtualLoop loop;
  std::vector<int> order;
  std::vector<TimePoint> at;
  loop.ScheduleAfter(microseconds(30), [&] {
    order.push_back(3);
    at.push_back(loop.Now());
  });
  loop.ScheduleAfter(microseconds(10), [&] {
    order.push_back(1);
    at.push_back(loop.Now());
  });
  loop.ScheduleAfter(microseconds(20), [&] {
    order.push_back(2);
    at.push_back(loop.Now());
  });
  EXPECT_EQ(loop.RunUntilIdle(), 3u);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(at[0].time_since_epoch(), microseconds(10));
  EXPECT_EQ(at[2].time_since_epoch(), microseconds(30));
}

TEST(VirtualLoopTest, SameTimeIsFifoWithoutSeed) {
  VirtualLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) loop.Post([&order, i] { order.push_back(i); });
  loop.RunUntilIdle();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], i);
}

std::vector<int> SeededOrder(uint64_t seed) {
  VirtualLoop loop(seed);
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) loop.Post([&order, i] { order.push_back(i); });
  loop.RunUntilIdle();
  return order;
}

TEST(VirtualLoopTest, SeedFixesTieOrderAndOtherSeedsChangeIt) {
  EXPECT_EQ(SeededOrder(1), SeededOrder(1));
  EXPECT_NE(SeededOrder(1), SeededOrder(2));
}

TEST(VirtualLoopTest, CancelAndRunFor) {
  VirtualLoop loop;
  int ran = 0;
  const TimerId a = loop.ScheduleAfter(microseconds(5), [&] { ran += 1; });
  loop.ScheduleAfter(microseconds(50), [&] { ran += 10; });
  EXPECT_TRUE(loop.Cancel(a));
  EXPECT_FALSE(loop.Cancel(a));
  loop.RunFor(microseconds(20));
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(loop.Now().time_since_epoch(), microseconds(20));
  loop.RunFor(microseconds(40));
  EXPECT_EQ(ran, 10);
  EXPECT_EQ(loop.pending(), 0u);
}

TEST(VirtualLoopTest, PostFromCallbackRunsLaterNotInline) {
  VirtualLoop loop;
  std::vector<int> order;
  loop.Post([&] {
    loop.Post([&] { order.push_back(2); });
    order.push_back(1);
  });
  loop.RunUntilIdle();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace fvd
