// Whole-image prefetch (FVD-FORMAT.md, "Whole-image prefetch (adaptive)"): after
// prefetch_start_delay seconds, copy every block still in the base into the image in the
// background, then mark the image self-contained (Header::self_contained) so the base is never
// read again.
//
// CONTRACT
// - A pipeline of two coroutines over a ring of num_prefetch_slots buffers of
//   bytes_per_prefetch: the reader fills slots from the base, one read in flight; the writer
//   empties them into the image, one write in flight.
// - Blocks already in the image (fresh bitmap) are never read. A range some request holds
//   locked is skipped and picked up by a later pass; the writer copies under a copy lock and
//   re-checks the fresh bitmap there (base_copy.h), so base data never overwrites guest data.
//   Copies are soft: only the fresh bitmap changes, a crash costs re-copying.
// - Pacing: read and write throughput are measured separately (prefetch_pacing.h); when an
//   average falls below its minimum, a coin from the seam's random source decides: heads,
//   pause 1 + U[0,1) * prefetch_throttle_time ms; tails, forget the average and go on
//   (prefetch_throttle_time <= 0 disables this). prefetch_max_read_throughput and
//   prefetch_max_write_throughput, when positive, cap each stream's rate. With
//   ImageOptions::prefetch_queue_target, a base read that queued longer than that behind
//   other traffic (QueueDelayPacer) makes the reader leave a growing gap before its next read
//   (at most prefetch_throttle_time), shrinking again once reads stop queueing.
// - ImageOptions::prefetch_control kWindow instead: no coin and no QueueDelayPacer; each slot
//   is read in pieces of prefetch_window.read_bytes, as many in flight (over all slots) as
//   PrefetchWindow allows, with its gap after each piece while the window is below one read.
//   The writer copies a slot once all its pieces are in, in slot order, one write of a piece's
//   size at a time (whole blocks): on a disk whose transfers are serialized, a guest request
//   then waits behind one small prefetch write at most, not a slot's (a 1 MiB write holds an
//   SSD at 500 MB/s for 2 ms; cor-reboot.yaml's second boot, reading only local data, had a
//   read p99 1.35x that with prefetch off while slots were written whole, 1.00x in pieces).
// - Completion: under a lock over the whole disk (so no write is between its fresh and stale
//   bits), flush the data, write the all-set bitmap and the table, flush, set
//   self_contained in the header, flush.
// - Profile-directed prefetch: with a profile (ImageOptions::prefetch_profile) and
//   profile_directed_prefetch_start_delay >= 0, the prefetcher starts that many seconds after
//   open with one pass over the profile's ranges in order, then waits for
//   prefetch_start_delay (if whole-image prefetch is on) and goes on as above.
// - An I/O error stops the prefetcher (stats say why); guest requests carry on. A later open
//   starts it again.
// - All timing comes from the image's Clock and Scheduler, the coin from its RandomSource.
#pragma once

#include <coroutine>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/image/extents.h"
#include "core/image/image_core.h"
#include "core/image/prefetch_pacing.h"
#include "core/image/prefetch_window.h"

namespace fvd {

class Prefetcher {
 public:
  explicit Prefetcher(Image::Core& core);
  ~Prefetcher();  // cancels its timers. REQUIRES: !running() (Stop first)
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // True if this image should prefetch: open read-write with metadata to update, a base image
  // still needed, and prefetch_start_delay > 0 or a profile to follow.
  static bool Wanted(const Image::Core& c);

  // Arms the start timer: prefetching begins prefetch_start_delay seconds from now.
  void Start();
  // Cancels the start timer and any pause, and finishes once no step of the prefetcher is in
  // flight. Idempotent; a stopped prefetcher never runs again.
  Task<void> Stop();
  bool running() const { return running_; }

 private:
  struct Slot {
    uint64_t offset = 0;
    IoBuffer bytes;
    int pending = 0;     // window mode: pieces still being read
    bool filled = true;  // every byte is read: the writer may copy it
  };
  struct Sleeper {
    TimerId timer = 0;
    std::coroutine_handle<> handle;
  };
  class SleepAwaiter;

  bool ShouldStop() const;
  void Fail(const Status& s, const char* what);
  SleepAwaiter Sleep(Duration d);
  void WakeSleepers();

  bool WholeImage() const { return c_.header.prefetch_start_delay > 0; }
  bool FollowsProfile() const;
  Task<void> Run();
  Task<void> WholeImagePasses();
  Task<void> Pass(bool profile);
  Task<void> Reader();
  // kWindow: reads each slot in pieces, as many in flight as the window allows.
  Task<void> WindowReader();
  Task<void> ReadPiece(uint64_t slot_index, uint64_t offset, uint64_t length);
  bool Windowed() const { return c_.options.prefetch_control == PrefetchControl::kWindow; }
  Task<void> Writer();
  // Waits out a throttle pause (coin) and the rate cap before an I/O of `bytes`.
  Task<void> Pace(ThroughputMeter& meter, RateCap& cap, uint64_t bytes, int32_t min_kibps);
  // Copies a slot into the image: whole (kFvd), or in pieces of WritePieceBytes (kWindow), so
  // a guest request on the image's disk never waits behind a large prefetch write.
  Task<void> CopySlot(const Slot& slot);
  uint64_t WritePieceBytes() const;  // the window's read size, in whole blocks
  Task<void> CopyPiece(uint64_t offset, std::span<const std::byte> bytes);
  Task<Status> Complete();
  Task<Status> MarkSelfContained();
  // The next run of blocks to read, or nothing at the end of the pass: from the cursor to the
  // window's end, then (profile pass) through the next profile ranges.
  std::optional<Extent> NextRange();
  std::optional<Extent> NextInWindow();

  Image::Core& c_;
  const uint64_t max_blocks_;  // blocks per slot
  std::vector<Slot> slots_;
  uint64_t head_ = 0, tail_ = 0;  // slots filled so far / emptied so far, this pass
  ThroughputMeter read_meter_, write_meter_;
  RateCap read_cap_, write_cap_;
  QueueDelayPacer queue_pacer_;
  PrefetchWindow window_;
  int in_flight_ = 0;       // window mode: pieces being read
  TimePoint next_read_at_;  // window mode: the gap after the last piece ends here
  std::vector<Extent> profile_;
  bool profile_pass_ = false;
  size_t profile_index_ = 0;  // next profile range to open as the window
  TimePoint opened_;          // when Start was called (open)
  uint64_t cursor_ = 0;       // next block to consider this pass
  uint64_t window_end_ = 0;   // blocks [cursor_, window_end_) are this pass's current window
  bool progress_ = false;     // this pass copied or found something
  bool reader_done_ = false;
  bool running_ = false, stop_requested_ = false, failed_ = false;
  TimerId start_timer_ = 0;
  std::vector<Sleeper*> sleepers_;
  WaitList ring_changed_;  // a slot was filled or emptied, the reader ended, or a stop
  WaitList stopped_;       // running_ became false
};

}  // namespace fvd
