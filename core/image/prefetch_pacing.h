// The arithmetic of the prefetcher's pacing (FVD-FORMAT.md, "Whole-image prefetch"): a
// throughput meter whose windows are smoothed into an average, and a rate cap. Pure: the
// prefetcher feeds them times read from the seam's clock.
#pragma once

#include <cstdint>
#include <optional>

#include "core/seam/clock.h"

namespace fvd {

// Throughput of one kind of prefetch I/O (base reads or image writes), in bytes per second.
// Each completed I/O adds its bytes and the time it was in flight to the open window; a window
// closes once its busy time reaches `measure_time`, and its throughput `latest` updates the
// average: the first window sets it, later ones give alpha * average + (1 - alpha) * latest.
// Busy time, not elapsed time, so that waiting for the other half of the pipeline (or a
// pause) does not read as a slow device.
class ThroughputMeter {
 public:
  // `alpha_percent` is clamped to [0, 100]; a non-positive `measure_time` closes a window
  // after every I/O that took any time.
  ThroughputMeter(Duration measure_time, int alpha_percent);

  // Adds one I/O. Returns true if it closed a window (the average changed).
  bool Add(uint64_t bytes, Duration busy);
  // Forgets the average and the open window: measuring starts over.
  void Reset();

  std::optional<double> average() const { return average_; }
  // True once an average exists and is below `min_bytes_per_second`.
  bool Below(double min_bytes_per_second) const {
    return average_.has_value() && *average_ < min_bytes_per_second;
  }
  uint64_t windows() const { return windows_; }

 private:
  Duration measure_time_;
  double alpha_;
  uint64_t window_bytes_ = 0;
  Duration window_busy_{0};
  std::optional<double> average_;
  uint64_t windows_ = 0;
};

// Keeps a stream of I/Os under `bytes_per_second` on average: each I/O may start no earlier
// than the time the previous ones' bytes allow. A cap of 0 means no cap.
class RateCap {
 public:
  explicit RateCap(uint64_t bytes_per_second) : rate_(bytes_per_second) {}

  // When an I/O of `bytes` that is ready at `now` may start; books it.
  TimePoint Admit(TimePoint now, uint64_t bytes);
  bool enabled() const { return rate_ > 0; }

 private:
  uint64_t rate_;
  std::optional<TimePoint> next_;  // when the next I/O may start
};

// Delay-based back-off (beyond FVD, in the spirit of LEDBAT): how long a base read took per
// byte, against the least seen so far, tells how long it queued behind other traffic on a
// shared base server. A read that took more than `factor` times the least makes the stream
// yield: it pauses as long as that read took times a multiplier that doubles while reads keep
// queueing (the pause at most `max_pause`) and falls back to 1 after a read that did not.
// Unlike the throughput coin, it needs no minimum throughput to be configured, and it backs
// off as soon as others queue in front of it, not once its own throughput has collapsed.
class DelayBackoff {
 public:
  // `factor` <= 1 disables the back-off (Add always returns zero).
  DelayBackoff(double factor, Duration max_pause) : factor_(factor), max_pause_(max_pause) {}

  // Adds a read of `bytes` that took `took`; returns how long to pause before the next one.
  Duration Add(uint64_t bytes, Duration took);
  bool enabled() const { return factor_ > 1; }
  uint64_t multiplier() const { return multiplier_; }

 private:
  double factor_;
  Duration max_pause_;
  std::optional<double> least_ns_per_byte_;
  uint64_t multiplier_ = 1;
};

// The header's KB/s figures are KiB/s (1024 bytes). Non-positive means "none".
inline uint64_t KiBpsToBytesPerSecond(int32_t kib_per_second) {
  return kib_per_second > 0 ? uint64_t(kib_per_second) * 1024 : 0;
}

}  // namespace fvd
