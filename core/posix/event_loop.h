// The real world's event loop: a Clock on CLOCK_MONOTONIC, a Scheduler of timers, and the
// dispatcher of I/O completions from file devices. One thread runs the loop (Run*); core/ code
// runs only on that thread, so it needs no locks. Other threads (the file device's thread pool,
// nbdkit's threads) hand work to it with PostFromAnyThread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/seam/clock.h"
#include "core/util/status.h"

namespace fvd {

class PosixEventLoop final : public Clock, public Scheduler {
 public:
  // Fails if the kernel refuses epoll or eventfd.
  static Result<std::unique_ptr<PosixEventLoop>> Create();
  ~PosixEventLoop() override;

  TimePoint Now() const override;
  TimerId ScheduleAfter(Duration delay, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;

  // Thread-safe: queues `fn` to run on the loop thread and wakes the loop.
  void PostFromAnyThread(std::function<void()> fn);

  // A readable file descriptor whose readiness the loop watches; `on_ready` runs on the loop
  // thread each time the descriptor is readable (level-triggered). Used by the file device
  // (io_uring eventfd, thread-pool eventfd). Returns an error if epoll refuses the fd.
  [[nodiscard]] Status WatchFd(int fd, std::function<void()> on_ready);
  // The same for a socket that is also written (an NBD client's): `on_ready(readable,
  // writable)` runs on the loop thread while the descriptor is readable, or writable when
  // SetWriteInterest asked for that (off at first).
  [[nodiscard]] Status WatchSocket(int fd, std::function<void(bool readable, bool writable)> on_ready);
  [[nodiscard]] Status SetWriteInterest(int fd, bool want);
  void UnwatchFd(int fd);

  // Runs due timers, posted work and I/O completions until `done()` is true. Sleeps in
  // epoll_wait when nothing is ready. Returns when done() becomes true.
  void RunUntil(const std::function<bool()>& done);
  // Runs everything that is ready now without sleeping; returns the number of callbacks run.
  size_t RunReady();

 private:
  PosixEventLoop() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fvd
