#include "core/posix/event_loop.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace fvd {
namespace {

using std::chrono::milliseconds;

class PosixEventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = PosixEventLoop::Create();
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    loop_ = std::move(created).value();
  }

  // RunUntil that cannot hang the test binary: gives up after a generous watchdog delay.
  // Returns false if the watchdog fired first.
  bool RunWithWatchdog(const std::function<bool()>& done,
                       Duration limit = std::chrono::seconds(10)) {
    bool expired = false;
    const TimerId watchdog = loop_->ScheduleAfter(limit, [&] { expired = true; });
    loop_->RunUntil([&] { return expired || done(); });
    loop_->Cancel(watchdog);
    return !expired;
  }

  std::unique_ptr<PosixEventLoop> loop_;
};

TEST_F(PosixEventLoopTest, NowIsMonotonicAndTracksRealTime) {
  const TimePoint a = loop_->Now();
  timespec ts{0, 2'000'000};
  ::nanosleep(&ts, nullptr);
  const TimePoint b = loop_->Now();
  EXPECT_GE(b - a, milliseconds(2));
}

TEST_F(PosixEventLoopTest, TimersFireInDeadlineOrderAndNeverEarly) {
  struct Fired {
    int tag;
    Duration late_by;
  };
  std::vector<Fired> fired;
  const int delays_ms[] = {30, 10, 0, 20, 5, 10};
  for (int i = 0; i < 6; ++i) {
    const Duration delay = milliseconds(delays_ms[i]);
    const TimePoint due = loop_->Now() + delay;
    loop_->ScheduleAfter(delay, [&, i, due] { fired.push_back({i, loop_->Now() - due}); });
  }
  ASSERT_TRUE(RunWithWatchdog([&] { return fired.size() == 6; }));
  // Deadline order; of the two 10 ms timers, the one scheduled first has the earlier deadline.
  const std::vector<int> expected = {2, 4, 1, 5, 3, 0};
  ASSERT_EQ(fired.size(), expected.size());
  for (size_t i = 0; i < fired.size(); ++i) {
    EXPECT_EQ(fired[i].tag, expected[i]) << "position " << i;
    EXPECT_GE(fired[i].late_by, Duration::zero()) << "timer " << fired[i].tag << " ran early";
  }
}

TEST_F(PosixEventLoopTest, PostRunsInFifoOrderAndNeverInline) {
  std::vector<int> order;
  bool returned = false;
  for (int i = 0; i < 5; ++i) {
    loop_->Post([&, i] {
      EXPECT_TRUE(returned) << "Post ran its function inline";
      order.push_back(i);
    });
  }
  returned = true;
  EXPECT_TRUE(order.empty());
  ASSERT_TRUE(RunWithWatchdog([&] { return order.size() == 5; }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(PosixEventLoopTest, ZeroDelayTimerPostedFromCallbackWaitsForNextPass) {
  int runs = 0;
  std::function<void()> again = [&] {
    ++runs;
    loop_->Post(again);
  };
  loop_->Post(again);
  // One pass runs what was due when it started, so a self-reposting callback cannot starve it.
  EXPECT_EQ(loop_->RunReady(), 1u);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(loop_->RunReady(), 1u);
  EXPECT_EQ(runs, 2);
}

TEST_F(PosixEventLoopTest, CancelReportsWhetherTheTimerWasPending) {
  bool cancelled_ran = false;
  bool kept_ran = false;
  const TimerId cancelled = loop_->ScheduleAfter(milliseconds(1), [&] { cancelled_ran = true; });
  const TimerId kept = loop_->ScheduleAfter(milliseconds(5), [&] { kept_ran = true; });
  EXPECT_NE(cancelled, 0u);
  EXPECT_NE(kept, 0u);
  EXPECT_NE(cancelled, kept);
  EXPECT_TRUE(loop_->Cancel(cancelled));
  EXPECT_FALSE(loop_->Cancel(cancelled)) << "second cancel of the same timer";
  EXPECT_FALSE(loop_->Cancel(kept + 1000)) << "unknown id";
  ASSERT_TRUE(RunWithWatchdog([&] { return kept_ran; }));
  EXPECT_FALSE(cancelled_ran);
  EXPECT_FALSE(loop_->Cancel(kept)) << "cancel after it ran";
}

TEST_F(PosixEventLoopTest, TimerCanCancelAnotherDueInTheSamePass) {
  bool victim_ran = false;
  TimerId victim = 0;
  bool cancel_result = false;
  loop_->Post([&] { cancel_result = loop_->Cancel(victim); });
  victim = loop_->Post([&] { victim_ran = true; });
  bool done = false;
  loop_->ScheduleAfter(milliseconds(2), [&] { done = true; });
  ASSERT_TRUE(RunWithWatchdog([&] { return done; }));
  EXPECT_TRUE(cancel_result);
  EXPECT_FALSE(victim_ran);
}

TEST_F(PosixEventLoopTest, RunReadyDoesNotBlockOrRunFutureTimers) {
  bool future_ran = false;
  loop_->ScheduleAfter(std::chrono::hours(1), [&] { future_ran = true; });
  EXPECT_EQ(loop_->RunReady(), 0u);
  int posted = 0;
  for (int i = 0; i < 3; ++i) loop_->Post([&] { ++posted; });
  EXPECT_EQ(loop_->RunReady(), 3u);
  EXPECT_EQ(posted, 3);
  EXPECT_FALSE(future_ran);
}

TEST_F(PosixEventLoopTest, SleepsInsteadOfSpinningWhileWaitingForATimer) {
  bool fired = false;
  loop_->ScheduleAfter(milliseconds(100), [&] { fired = true; });
  timespec cpu_before{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_before);
  ASSERT_TRUE(RunWithWatchdog([&] { return fired; }));
  timespec cpu_after{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_after);
  const auto cpu = std::chrono::seconds(cpu_after.tv_sec - cpu_before.tv_sec) +
                   std::chrono::nanoseconds(cpu_after.tv_nsec - cpu_before.tv_nsec);
  // A spinning loop would burn ~100 ms of CPU; a sleeping one a tiny fraction of that.
  EXPECT_LT(cpu, milliseconds(20));
}

TEST_F(PosixEventLoopTest, PostFromAnyThreadWakesABlockedLoop) {
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::atomic<bool> ran{false};
  bool on_loop_thread = false;
  std::thread poster([&] {
    // Gives the loop time to block in epoll_wait with no timer but the watchdog; the test
    // passes either way, the delay only makes it exercise the blocked path.
    std::this_thread::sleep_for(milliseconds(50));
    loop_->PostFromAnyThread([&] {
      on_loop_thread = std::this_thread::get_id() == loop_thread;
      ran = true;
    });
  });
  const TimePoint start = loop_->Now();
  const bool finished = RunWithWatchdog([&] { return ran.load(); });
  poster.join();
  ASSERT_TRUE(finished) << "loop was not woken by PostFromAnyThread";
  EXPECT_TRUE(on_loop_thread);
  EXPECT_LT(loop_->Now() - start, std::chrono::seconds(5));
}

TEST_F(PosixEventLoopTest, PostFromManyThreadsDeliversEverything) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  int received = 0;  // only touched on the loop thread
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) loop_->PostFromAnyThread([&] { ++received; });
    });
  }
  const bool finished = RunWithWatchdog([&] { return received == kThreads * kPerThread; });
  for (auto& t : posters) t.join();
  ASSERT_TRUE(finished) << "received " << received;
  EXPECT_EQ(loop_->RunReady(), 0u) << "nothing extra may run";
}

TEST_F(PosixEventLoopTest, WatchFdRunsCallbackOnReadinessUntilUnwatched) {
  const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(efd, 0);
  int calls = 0;
  ASSERT_TRUE(loop_
                  ->WatchFd(efd,
                            [&] {
                              uint64_t v = 0;
                              ASSERT_EQ(::read(efd, &v, sizeof(v)), 8);
                              ++calls;
                            })
                  .ok());
  EXPECT_FALSE(loop_->WatchFd(efd, [] {}).ok()) << "double watch";
  std::thread writer([&] {
    const uint64_t one = 1;
    ASSERT_EQ(::write(efd, &one, sizeof(one)), 8);
  });
  const bool finished = RunWithWatchdog([&] { return calls == 1; });
  writer.join();
  ASSERT_TRUE(finished);
  loop_->UnwatchFd(efd);
  const uint64_t one = 1;
  ASSERT_EQ(::write(efd, &one, sizeof(one)), 8);
  EXPECT_EQ(loop_->RunReady(), 0u);
  EXPECT_EQ(calls, 1);
  ::close(efd);
}

TEST_F(PosixEventLoopTest, WatchFdRejectsABadDescriptor) {
  EXPECT_FALSE(loop_->WatchFd(-1, [] {}).ok());
}

}  // namespace
}  // namespace fvd
