// The arithmetic of the prefetcher's pacing (FVD-FORMAT.md, "Whole-image prefetch"): a
// throughput meter whose windows are smoothed into an average, and a rate cap. Pure: the
// prefetcher feeds them times read from the seam's clock.
#pragma once

#include <cstdint>
#include <map>
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

// Delay-based pacing of base reads (beyond FVD; a scavenger in the spirit of LEDBAT, RFC
// 6817). A read's time less the least time a read of the same size has taken is how long it
// queued behind other traffic on a shared base server. While that exceeds `target`, the reader
// yields more and more: the gap it leaves before its next read doubles (starting from the
// read's own time, at most `max_gap`). Once reads queue no longer than the target, the gap
// halves with each read, and below the target it is none. The prefetchers of many VMs on one
// server so keep its queue near the target between them: a guest read waits about that long
// for prefetch traffic, plus at most the transfer of one prefetch read (so small reads, a
// small prefetch slot, keep guests' latency), and prefetch takes the bandwidth nobody else
// wants. Unlike the throughput coin, it needs no minimum throughput configured, and it yields
// as soon as others queue in front of it, not once its own throughput has collapsed.
class QueueDelayPacer {
 public:
  // A `target` of zero or less disables the pacing (Add always returns zero).
  QueueDelayPacer(Duration target, Duration max_gap) : target_(target), max_gap_(max_gap) {}

  // Adds a read of `bytes` that took `took`; returns the gap to leave before the next read.
  Duration Add(uint64_t bytes, Duration took);
  bool enabled() const { return target_ > Duration::zero(); }
  Duration gap() const { return gap_; }

 private:
  Duration target_;
  Duration max_gap_;
  std::map<uint64_t, Duration> least_;  // by read size: the least time such a read took
  Duration gap_{0};
};

// The header's KB/s figures are KiB/s (1024 bytes). Non-positive means "none".
inline uint64_t KiBpsToBytesPerSecond(int32_t kib_per_second) {
  return kib_per_second > 0 ? uint64_t(kib_per_second) * 1024 : 0;
}

}  // namespace fvd
