#include "core/seam/virtual_loop.h"

#include <cassert>

namespace fvd {

VirtualLoop::VirtualLoop(std::optional<uint64_t> tie_break_seed) {
  if (tie_break_seed) tie_break_.emplace(*tie_break_seed);
}

TimerId VirtualLoop::ScheduleAfter(Duration delay, std::function<void()> fn) {
  if (delay < Duration::zero()) delay = Duration::zero();
  const TimerId id = next_id_++;
  const uint64_t tie = tie_break_ ? tie_break_->NextU64() : 0;
  queue_.push(Event{now_ + delay, tie, id, std::move(fn)});
  live_.insert(id);
  return id;
}

bool VirtualLoop::Cancel(TimerId id) {
  if (live_.erase(id) == 0) return false;
  cancelled_.insert(id);
  return true;
}

bool VirtualLoop::RunOne() {
  while (!queue_.empty()) {
    // priority_queue::top is const; the event is moved out before pop, which is safe because
    // pop only needs the heap order of the remaining elements.
    Event ev = std::move(const_cast<Event&>(queue_.top()));
    queue_.pop();
    if (cancelled_.erase(ev.id) > 0) continue;
    live_.erase(ev.id);
    assert(ev.when >= now_);
    now_ = ev.when;
    ++events_run_;
    ev.fn();
    return true;
  }
  return false;
}

uint64_t VirtualLoop::RunUntilIdle() {
  uint64_t n = 0;
  while (RunOne()) ++n;
  return n;
}

bool VirtualLoop::RunUntil(const std::function<bool()>& done) {
  while (!done()) {
    if (!RunOne()) break;
  }
  return done();
}

void VirtualLoop::RunFor(Duration d) {
  const TimePoint end = now_ + d;
  while (!queue_.empty()) {
    const Event& top = queue_.top();
    if (cancelled_.count(top.id) > 0) {
      cancelled_.erase(top.id);
      queue_.pop();
      continue;
    }
    if (top.when > end) break;
    RunOne();
  }
  now_ = end;
}

}  // namespace fvd
