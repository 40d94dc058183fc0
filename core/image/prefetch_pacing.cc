#include "core/image/prefetch_pacing.h"

#include <algorithm>

namespace fvd {

ThroughputMeter::ThroughputMeter(Duration measure_time, int alpha_percent)
    : measure_time_(measure_time), alpha_(std::clamp(alpha_percent, 0, 100) / 100.0) {}

bool ThroughputMeter::Add(uint64_t bytes, Duration busy) {
  window_bytes_ += bytes;
  window_busy_ += busy;
  if (window_busy_ <= Duration::zero() || window_busy_ < measure_time_) return false;
  const double seconds = std::chrono::duration<double>(window_busy_).count();
  const double latest = static_cast<double>(window_bytes_) / seconds;
  average_ = average_.has_value() ? alpha_ * *average_ + (1 - alpha_) * latest : latest;
  window_bytes_ = 0;
  window_busy_ = Duration::zero();
  ++windows_;
  return true;
}

void ThroughputMeter::Reset() {
  average_.reset();
  window_bytes_ = 0;
  window_busy_ = Duration::zero();
}

Duration QueueDelayPacer::Add(uint64_t bytes, Duration took) {
  if (!enabled() || bytes == 0 || took <= Duration::zero()) return Duration::zero();
  auto [least, first] = least_.try_emplace(bytes, took);
  if (!first && took < least->second) least->second = took;
  if (took - least->second > target_) {
    gap_ = std::min(max_gap_, std::max(gap_ * 2, took));
  } else {
    gap_ /= 2;
    if (gap_ < target_) gap_ = Duration::zero();
  }
  return gap_;
}

TimePoint RateCap::Admit(TimePoint now, uint64_t bytes) {
  if (rate_ == 0) return now;
  const TimePoint start = next_.has_value() ? std::max(now, *next_) : now;
  // Rounded up so a long run of small I/Os never drifts above the cap. No overflow: one I/O
  // is at most a prefetch slot (an int32 of bytes), and 2^31 * 10^9 < 2^64.
  const auto ns = static_cast<int64_t>((bytes * 1'000'000'000 + rate_ - 1) / rate_);
  next_ = start + Duration(ns);
  return start;
}

}  // namespace fvd
