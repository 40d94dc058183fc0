// A single-threaded event loop on virtual time: the Clock and Scheduler of core's own unit
// tests and the base of the simulator's loop. Time only moves when the loop runs an event.
// Events due at the same instant run in submission order, or, with a tie-break seed, in an
// order drawn from that seed (so different seeds explore different interleavings and the
// same seed repeats one).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_set>
#include <vector>

#include "core/seam/clock.h"
#include "core/util/prng.h"

namespace fvd {

class VirtualLoop final : public Clock, public Scheduler {
 public:
  // Without a seed, same-time events run first-in first-out.
  explicit VirtualLoop(std::optional<uint64_t> tie_break_seed = std::nullopt);

  TimePoint Now() const override { return now_; }
  TimerId ScheduleAfter(Duration delay, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;

  // Runs the earliest pending event, advancing time to it. Returns false if none is pending.
  bool RunOne();
  // Runs events until none is pending. Returns the number run.
  uint64_t RunUntilIdle();
  // Runs events until `done()` is true or none is pending; returns done().
  bool RunUntil(const std::function<bool()>& done);
  // Runs every event due up to Now() + d, then sets the time to Now() + d.
  void RunFor(Duration d);

  size_t pending() const { return queue_.size() - cancelled_.size(); }
  uint64_t events_run() const { return events_run_; }

 private:
  struct Event {
    TimePoint when;
    uint64_t tie;  // seeded draw, or 0 for FIFO
    TimerId id;    // submission order
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      if (a.when != b.when) return a.when > b.when;
      if (a.tie != b.tie) return a.tie > b.tie;
      return a.id > b.id;
    }
  };

  TimePoint now_{};
  TimerId next_id_ = 1;
  uint64_t events_run_ = 0;
  std::optional<Prng> tie_break_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::unordered_set<TimerId> cancelled_;  // lookup only; never iterated
  std::unordered_set<TimerId> live_;       // pending ids, for Cancel's answer
};

}  // namespace fvd
