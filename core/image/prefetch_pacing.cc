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

Duration DelayBackoff::Add(uint64_t bytes, Duration took) {
  if (!enabled() || bytes == 0 || took <= Duration::zero()) return Duration::zero();
  const double per_byte = static_cast<double>(took.count()) / static_cast<double>(bytes);
  if (!least_ns_per_byte_.has_value() || per_byte < *least_ns_per_byte_) {
    least_ns_per_byte_ = per_byte;
  }
  if (per_byte <= factor_ * *least_ns_per_byte_) {
    multiplier_ = 1;
    return Duration::zero();
  }
  const Duration pause = std::min(max_pause_, took * static_cast<int64_t>(multiplier_));
  if (pause < max_pause_) multiplier_ *= 2;
  return pause;
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
