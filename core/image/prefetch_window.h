// The window of prefetch base reads (issue 27): how many reads may be in flight, steered by the
// queueing delay each read measures. A delay-based controller in the spirit of LEDBAT (RFC
// 6817) and TCP Vegas, with the multiplicative decrease of LEDBAT++ so that prefetchers
// sharing a server converge to equal shares (additive increase, multiplicative decrease).
//
// CONTRACT
// - The window `w` is a real number of reads, between `min_window` and `max_reads`. At or
//   above one, floor(w) reads may be in flight (at least one). Below one, one read is in
//   flight and the reader leaves a gap after it, so that reads take a fraction w of the time:
//   gap = took * (1 / w - 1), at most `max_gap`.
// - A read's queueing delay is its time less the least time a read of the same size has
//   taken (the base delay: the server's own latency and transfer, with nobody in front).
//   off = (T - queueing) / T, at most 1, where the target T is the larger of `target` and
//   target_of_base times the read's base delay: a path's noise grows with its latency (the
//   network preset's jitter is a tenth of its round trip), and a fixed 200 us sits inside the
//   noise of any path longer than a few ms. In the simulator, with a tenth of the latency as
//   jitter, a lone prefetch over 5 ms at 1 Gbit/s and over 20 ms at 100 Mbit/s never finished
//   in 300 s with T = 200 us; with half the base delay it takes 1.20x and 1.08x the bandwidth
//   bound (with max_reads 64, which a 5 ms path needs: 16 reads of 16 KiB fill 0.41 of it).
// - Noise: a real path adds its own noise to every read (an NBD server, its socket and client
//   measured 200-240 us at p99 over their least, reports/fidelity/), which looks like queueing.
//   So the queueing that counts is the least of the last min(floor(w), filter_reads) reads'
//   (RFC 6817's filter of current delays): a few reads in a row must queue before the window
//   shrinks. Below two reads in flight each read counts alone: prefetchers that share a
//   server sit there, and a filter over their few, far-apart reads made their shares unequal
//   (Jain 0.83-0.88 of sixteen on one link, with a filter of 2-4 reads at every window).
//   In the simulator, a lone prefetch over a 1 Gbit/s link whose reads take up to 200 us or
//   300 us more at random took 1.03x and 1.11x the bandwidth bound with the filter, where it
//   took 1.56x and 5.96x; with 500 us of noise it fell below two reads and crawled, until the
//   target grew with the base delay (above): 1.18x.
// - Per completed read, a round being max(w, 1) reads (a round trip's worth), with
//   d = beta * min(1, -off):
//     off >= 0:  w += gain * off / max(w, 1)    (about +gain * off reads per round)
//     off <  0:  w -= d * min(w, 1)             (about w * d per round)
//   So below the target the window grows by at most `gain` reads per round; above it the
//   window shrinks by the fraction d per round (a read queueing twice the target or more
//   halves it with beta 0.5). A lone prefetcher so opens its window until its own reads
//   queue at the target (it fills the link); many on one server shrink together to a read
//   and a gap each. Per unit of time a window then moves by (reads per second) times the
//   above, which is w / took for any w: dw/dt = (w / took) * (gain * off' - d * w) on
//   average, whose rest point w = gain * off' / d depends only on what the shared server
//   shows every prefetcher, so their shares converge (LEDBAT's additive decrease does not).
// - Slowdowns (LEDBAT++, draft-irtf-iccrg-ledbat-plus-plus): a prefetcher that starts while
//   others already queue reads takes their queue for its base delay and would hold the
//   server's queue at its target above theirs, starving them. So once its reads first queue
//   past the target, and then every twenty slowdown lengths, it leaves a gap of the read's
//   time plus two base delays: its own reads drain, and the next one measures the server
//   without them. A lone prefetcher loses about a twentieth of its time to this.
// - Pure: times come from the caller (the seam's clock); no I/O, no randomness.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>

#include "core/seam/clock.h"

namespace fvd {

// How the prefetcher paces its base reads (ImageOptions::prefetch_control).
enum class PrefetchControl { kFvd, kWindow };

struct PrefetchWindowLimits {
  uint64_t read_bytes = 16 * 1024;  // bytes per read (a slot is read in pieces of this)
  Duration target{std::chrono::microseconds(200)};  // queueing delay to steer to; > 0
  // The target is at least this fraction of the read's base delay (0: `target` alone).
  double target_of_base = 0.5;
  double max_reads = 64;          // at most this many reads in flight; >= 1
  double min_window = 1.0 / 256;  // the least duty cycle; in (0, 1]
  Duration max_gap{std::chrono::seconds(2)};
  double gain = 0.1;   // reads added per round at zero queueing
  double beta = 0.25;  // fraction taken per round at twice the target or more
  // The noise filter: the queueing that counts is the least of the last min(floor(w),
  // filter_reads) reads' (1: each read's own).
  size_t filter_reads = 4;
};

class PrefetchWindow {
 public:
  explicit PrefetchWindow(const PrefetchWindowLimits& limits);

  // A read of `bytes` that took `took` completed at `now`; updates the base delay and the
  // window. Reads of no bytes or no time are ignored.
  void Completed(TimePoint now, uint64_t bytes, Duration took);

  // How many reads may be in flight now: floor(w), at least 1.
  int reads() const;
  // The gap to leave, after the read just completed that took `took`, before the next read
  // starts: took * (1 / w - 1) while w < 1 (at most max_gap), else zero; or a slowdown's
  // length if one is due (it is then taken).
  Duration TakeGap(Duration took);

  double window() const { return w_; }
  // The last queueing delay that counted, after the noise filter (zero before any read).
  Duration queueing() const { return queueing_; }
  uint64_t slowdowns() const { return slowdowns_; }

 private:
  PrefetchWindowLimits limits_;
  double w_ = 1;
  Duration queueing_{0};
  std::optional<TimePoint> slowdown_due_;  // set once reads first queue past the target
  Duration slowdown_{0};                   // a slowdown's gap, until TakeGap takes it
  uint64_t slowdowns_ = 0;
  // Adds a read's queueing to the noise filter; returns the least the filter holds.
  Duration Filtered(Duration sample);
  // The queueing delay to steer to for a read whose base delay is `base`.
  Duration Target(Duration base) const;

  std::map<uint64_t, Duration> least_;  // by read size: the least time such a read took
  std::deque<Duration> recent_;         // the noise filter's queueing samples, oldest first
};

}  // namespace fvd
