// Time and timers for core/: a monotonic clock in integer nanoseconds and a scheduler that runs
// a callback after a delay. The simulator implements both on virtual time; the POSIX event loop
// on CLOCK_MONOTONIC. core/ never reads a wall clock itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace fvd {

// The clock type of the seam, usable with std::chrono arithmetic. It has no static now():
// time is read from a Clock object, so each world owns its own.
struct SeamClock {
  using rep = int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<SeamClock>;
  static constexpr bool is_steady = true;
};
using Duration = SeamClock::duration;
using TimePoint = SeamClock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic: never goes backwards. Starts near zero in the simulator.
  virtual TimePoint Now() const = 0;
};

using TimerId = uint64_t;

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Runs `fn` once from the event loop, no earlier than `delay` from Now(); never inline from
  // this call, even with a zero delay. Returns an id for Cancel (never 0).
  virtual TimerId ScheduleAfter(Duration delay, std::function<void()> fn) = 0;
  // Runs `fn` from the event loop as soon as possible (after what is already due).
  TimerId Post(std::function<void()> fn) { return ScheduleAfter(Duration::zero(), std::move(fn)); }
  // Cancels a pending timer. Returns true if it was pending (it will now never run), false if
  // it already ran, was cancelled, or never existed.
  virtual bool Cancel(TimerId id) = 0;
};

}  // namespace fvd
