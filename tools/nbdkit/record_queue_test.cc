#include "tools/nbdkit/record_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace fvd::nbd {
namespace {

TEST(RecordQueueTest, AsksForOneWakeWhenFullAndGivesRangesBackInOrder) {
  RecordQueue q(3);
  EXPECT_FALSE(q.Push(0, 512));
  EXPECT_FALSE(q.Push(4096, 4096));
  EXPECT_TRUE(q.Push(512, 512));            // the third: wake the loop
  EXPECT_FALSE(q.Push(8192, 1024));         // a wake is already on its way
  std::vector<ByteRange> taken = {{1, 1}};  // emptied first
  q.TakeAll(taken);
  EXPECT_EQ(taken, (std::vector<ByteRange>{{0, 512}, {4096, 4096}, {512, 512}, {8192, 1024}}));
  q.TakeAll(taken);
  EXPECT_TRUE(taken.empty());
  EXPECT_FALSE(q.Push(1, 1));
  EXPECT_FALSE(q.Push(2, 1));
  EXPECT_TRUE(q.Push(3, 1));  // taken: the next full queue asks again
}

TEST(RecordQueueTest, PushesFromManyThreadsAreAllTakenInEachThreadsOrder) {
  RecordQueue q(1000);
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&q, t] {
      for (int i = 0; i < kEach; ++i) q.Push(uint64_t(t), uint64_t(i));
    });
  }
  std::vector<ByteRange> all;
  for (auto& th : threads) th.join();
  q.TakeAll(all);
  ASSERT_EQ(all.size(), size_t{kThreads} * kEach);
  std::vector<uint64_t> next(kThreads, 0);
  for (const ByteRange& r : all) {
    ASSERT_LT(r.offset, uint64_t{kThreads});
    EXPECT_EQ(r.length, next[r.offset]++) << "thread " << r.offset;
  }
}

}  // namespace
}  // namespace fvd::nbd
