// Image: an open FVD image serving guest reads, writes and flushes on the seam, as
// FVD-FORMAT.md describes (copy-on-write over a base image, copy-on-read, compact images,
// the metadata journal in buffered or unbuffered mode, recovery after a crash).
//
// CONTRACT
// - Every operation is a Task, run on the owner's event loop (the one behind ImageEnv's
//   scheduler and the devices). Any number of reads, writes and flushes may be in flight at
//   once; each is correct under any interleaving.
// - Offsets and lengths are bytes, multiples of 512, inside the virtual disk.
// - A write completing means its data reads back; it is durable once a later Flush completes
//   (buffered journal), or at once (unbuffered journal: write-through semantics).
// - Buffers stay alive and unchanged until the operation completes.
// - Close() waits for in-flight requests, writes all metadata back and marks the image clean.
//   After a crash (no Close), the next Open recovers from the journal.
// - A failed metadata write puts the image in the metadata-error state: writes then fail with
//   kReadOnly (reads go on) until the image is reopened.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/check/check.h"
#include "core/format/header.h"
#include "core/image/prefetch_window.h"
#include "core/image/test_bugs.h"
#include "core/seam/block_device.h"
#include "core/seam/clock.h"
#include "core/seam/random.h"
#include "core/util/status.h"
#include "core/util/task.h"

namespace fvd {

enum class JournalMode {
  kUnbuffered,  // write-through: every metadata change is durable before its write completes
  kBuffered,    // write-back: changes collect in a buffer written at flush, when full, on a timer
};

enum class AccessMode { kReadOnly, kReadWrite };

// A range of guest bytes.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const ByteRange&) const = default;
};

struct ImageOptions {
  AccessMode access = AccessMode::kReadWrite;
#ifdef FVD_TEST_BUGS
  TestBugs bugs;  // test builds only (core/image/test_bugs.h)
#endif
  JournalMode journal_mode = JournalMode::kBuffered;
  // Buffered mode: how many bytes of records queue in memory before a write-out starts that no
  // flush asked for. Each such write-out first flushes the data file (the data its records
  // describe must be durable first), which on real storage writes back every dirty page. An
  // overlay's allocating 4 KiB writes behind the NBD export at QD32 ran 19.6k-22.5k IOPS with
  // 64 KiB and 27.5k-29.0k with 4 MiB, raw 38.3k-40.8k (reports/peers/notes.md). The journal
  // bounds what can queue (each record sets new bits or maps a new chunk), so a large buffer
  // costs memory only while records wait.
  uint64_t journal_buffer_bytes = 4 * 1024 * 1024;
  Duration journal_flush_period = std::chrono::seconds(5);
  // Called after each prefetch copy with the bytes the prefetcher has copied since open (for
  // progress reports; it must not touch the image).
  std::function<void(uint64_t)> on_prefetch_progress = nullptr;
  // Profile-directed prefetch: guest ranges to copy from the base first, in this order (what
  // another image from the same base recorded). Used when the header's
  // profile_directed_prefetch_start_delay is >= 0: that many seconds after open the prefetcher
  // copies these, then goes on with whole-image prefetch if prefetch_start_delay enables it.
  std::vector<ByteRange> prefetch_profile = {};
  // Record the order in which guest reads pull base blocks (also when the header's
  // generate_prefetch_profile is set); see Image::recorded_prefetch_profile().
  bool record_prefetch_profile = false;
  // Delay-based pacing of prefetch base reads (prefetch_pacing.h, QueueDelayPacer): a read
  // that queued longer than this behind other traffic on the base's storage makes the
  // prefetcher leave a gap before its next read, growing while reads keep queueing, up to
  // prefetch_throttle_time. Zero: off.
  Duration prefetch_queue_target{0};
  // How the prefetcher paces its base reads. kWindow (the default): each slot is read in
  // pieces of prefetch_window.read_bytes with a window of pieces in flight that a
  // queueing-delay controller sizes (prefetch_window.h; its target is prefetch_queue_target
  // when set); the throughput coin is off, the header's rate caps still apply. kFvd: FVD's own
  // (one read of bytes_per_prefetch at a time, the header's throughput coin, and the delay
  // pacing above when its target is set), kept for comparison.
  PrefetchControl prefetch_control = PrefetchControl::kWindow;
  PrefetchWindowLimits prefetch_window = {};
  // The repair of `fvd-img check -r all`: when the journal is corrupt beyond replay, open
  // read-write anyway with the metadata as last written and start a new journal epoch, so the
  // old records are never applied. Writes recorded only in the journal are lost for good.
  bool discard_unreplayable_journal = false;
  // The most memory the open may spend on metadata (format::MetadataMemoryOf: bitmaps, table,
  // journal replay, profile), checked against the header before anything is allocated: a
  // header can claim any size. Over it, Open fails with kTooLarge naming what it would need.
  uint64_t max_metadata_memory = uint64_t{1} << 30;
  // Called on the image's scheduler when the image enters the metadata-error state and refuses
  // writes from then on: a host that writes in-place ranges itself (InPlaceRun) stops.
  std::function<void()> on_metadata_error = nullptr;
};

// The world an image runs in: time, timers and randomness come only from here.
struct ImageEnv {
  Clock& clock;
  Scheduler& scheduler;
  RandomSource& random;
};

// The devices of an image. `data` is the separate data file when the header names one (else
// null: data lives in `image`). `base` is the base image; required while the header has a base
// and not all data is in the image.
struct ImageDevices {
  BlockDevice* image = nullptr;
  BlockDevice* data = nullptr;
  BlockDevice* base = nullptr;
};

// What an image did, for tests, tools and the simulator's reports.
struct ImageStats {
  uint64_t guest_reads = 0, guest_writes = 0, guest_flushes = 0;
  uint64_t in_place_writes = 0, allocating_writes = 0;
  uint64_t base_reads = 0, base_bytes_read = 0;
  int64_t last_guest_base_read_ns = -1;  // the image's clock at the last guest read of the base
  uint64_t copy_on_read_copies = 0, copy_on_read_bytes = 0, copy_on_read_skipped = 0;
  uint64_t journal_sector_writes = 0, journal_writes = 0, journal_recycles = 0;
  // Time journal writers spent waiting for a recycle (their own or another's), in the image's
  // clock's nanoseconds, summed over writers.
  uint64_t journal_recycle_wait_ns = 0;
  // Flushes the engine sent to the data device and to the image device (the same device
  // unless the image has a separate data file: then each flush counts in the one it came as).
  uint64_t data_flushes = 0, image_flushes = 0;
  uint64_t chunks_allocated = 0, chunks_reused = 0, storage_grows = 0;
  uint64_t lock_waits = 0;
  // Whole-image prefetch (prefetcher.h). Its base reads also count in base_reads above.
  bool prefetch_started = false, prefetch_finished = false, prefetch_failed = false;
  uint64_t prefetch_profile_bytes = 0;   // copied while following the prefetch profile
  int64_t prefetch_started_at_ns = -1;   // the image's clock when it started
  int64_t prefetch_finished_at_ns = -1;  // and when it finished
  std::string prefetch_error;            // why it stopped, when prefetch_failed
  // The prefetch profile stored in the image (profile_store.h): entries read at open, or why
  // the region was ignored.
  uint64_t stored_profile_entries = 0;
  std::string prefetch_profile_error;
  uint64_t prefetch_passes = 0, prefetch_copies = 0;  // copies: writes of prefetched data
  uint64_t prefetch_bytes_read = 0, prefetch_bytes_written = 0;
  uint64_t prefetch_skipped_locked = 0;  // ranges left for a later pass: someone held a lock
  uint64_t prefetch_pauses = 0;          // coin came up heads: paused
  uint64_t prefetch_resets = 0;          // coin came up tails: average forgotten
  uint64_t prefetch_cap_waits = 0;       // waits for a max-throughput cap
  uint64_t prefetch_backoffs = 0;        // gaps left by the delay-based pacing
  // Recovery at open.
  bool recovered = false;
  uint64_t replayed_sectors = 0, skipped_sectors = 0, leaked_chunks = 0;
  // The journal described impossible metadata (a record past the disk or the table, two chunks
  // mapped to one): the image opened read-only, with the metadata as last written.
  bool journal_unreplayable = false;
  bool journal_discarded = false;  // ... and discard_unreplayable_journal discarded it
};

// Where a guest range's data is, for `fvd-img map`.
struct MapExtent {
  enum class Where { kBase, kImage, kNowhere };  // kNowhere: unallocated, reads zeros
  uint64_t offset = 0;
  uint64_t length = 0;
  Where where = Where::kImage;
  uint64_t physical = 0;  // data-file offset when kImage
  bool operator==(const MapExtent&) const = default;
};

class Image {
 public:
  // Opens an image whose devices are open. Recovers first if it was not shut down cleanly and
  // access is read-write (a read-only open of such an image replays the journal in memory).
  // A journal corrupt beyond replay never fails the open and never yields guessed metadata:
  // the image opens read-only with the bitmap and table as last written (writes recorded
  // only in the journal are not visible), and open_warning() says so.
  static Task<Result<std::unique_ptr<Image>>> Open(ImageEnv env, ImageDevices devices,
                                                   ImageOptions options);
  ~Image();

  Task<Status> Read(uint64_t offset, std::span<std::byte> buf);
  // A read served right here, for synchronous hosts (the fio plugin): when all of the range
  // is in the image as one contiguous run of the data device and the device can read it now
  // (BlockDevice::TryReadNow with `wait`), fills `buf`, counts a guest read and returns true.
  // Otherwise returns false having changed nothing but `buf`'s bytes: call Read. It sees what a
  // Read completing now would; it takes no lock, as Read's fast path takes none.
  bool TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait = ReadWait::kNever);
  Task<Status> Write(uint64_t offset, std::span<const std::byte> buf);
  // A write done right here, for synchronous hosts (a sync fio job, fvd-img bench at depth 1:
  // they wait anyway), to one contiguous run of the data device that the device writes now
  // (BlockDevice::TryWriteNow, FUA in unbuffered mode as Write would). Two kinds are served:
  // - in place (every touched block durably in the image, no metadata to record), taking no
  //   lock, as Write's in-place path takes none;
  // - allocating, in buffered journal mode only, when nothing would wait: the journal queues
  //   the record now, no request holds the blocks, no byte must come from the base (whole
  //   blocks, or blocks the base does not cover) and every chunk is allocated. Data, bitmap
  //   and record then change in Write's order.
  // Then counts a guest write and returns true. Otherwise returns false, the guest range
  // holding old or new bytes (as with a failed write) and the metadata unchanged: call Write.
  bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf);

  // Allocating writes a host does itself, from any thread (the NBD export's workers, with no
  // trip to the image's thread and back), then records here. Allowed when HostMayAllocate():
  // a read-write plain (not compact) image with a bitmap and a buffered journal, no copy-on-read
  // and no prefetcher, so nothing but guest writes ever puts data in its blocks. The host then
  // writes whole blocks (each end of the range on a block boundary or at or past the end of
  // the base: no byte to copy from the base) at header().data_offset() + offset of the data
  // device, and after that write completes calls RecordHostWrite (or TryRecordHostWriteNow) on
  // the image's scheduler, before it tells anyone the write is done. The record does what
  // Write's allocating path does after its data write: fresh bits at once (reads see the data),
  // then the journal record under a write lock, then stale bits; a buffered write-out flushes
  // the data file before writing the record, so the record is never durable before the data.
  // A guest write still in flight over the same blocks races the host's: their order is the
  // client's to choose, as NBD leaves it (with blocks larger than its requests, a merge of such
  // a write may copy the base over the host's bytes of the shared block).
  bool HostMayAllocate() const;
  // Records as RecordHostWrite would, right here, if nothing would wait (TryWriteNow's
  // conditions); counts a guest write and returns true. Otherwise changes nothing and returns
  // false: call RecordHostWrite.
  bool TryRecordHostWriteNow(uint64_t offset, uint64_t length);
  // Fails with kInvalidArgument, changing nothing, if the image does not allow host writes or
  // the range is not whole blocks; with the image's write error (metadata error) after marking
  // the blocks fresh, so they read back until the image closes.
  Task<Status> RecordHostWrite(uint64_t offset, uint64_t length);

  Task<Status> Flush();
  Task<Status> Close();
  // Waits until no request, background copy or journal write is in flight and cancels the
  // journal timer: after this the image may be destroyed without Close (a crash, in tests and
  // the simulator: the image's storage has already lost power).
  Task<void> WaitIdle();

  // Where [offset, offset + length) is on the data device when a write there needs no metadata
  // (what Write's in-place path checks): every block durably in the image, every chunk
  // journaled, one contiguous run of the data device. nullopt otherwise. Such a range stays so,
  // at the same place, while the image is open (durable bits and journaled table entries are
  // only ever set), so a host may read and write it on the data device itself, from any thread,
  // as Write's in-place path would (the NBD export's direct path); until on_metadata_error.
  std::optional<uint64_t> InPlaceRun(uint64_t offset, uint64_t length) const;

  // Where each part of [offset, offset + length) is now (fresh bitmap, table), adjacent
  // extents of the same kind (and contiguous physical offsets) merged.
  std::vector<MapExtent> Map(uint64_t offset, uint64_t length) const;

  // Consistency findings on the metadata as opened (core/check/check.h).
  CheckReport Check() const;

  const format::Header& header() const;
  // The profile recorded since open (empty unless recording): whole-block guest ranges in the
  // order guest reads first fetched them from the base.
  std::vector<ByteRange> recorded_prefetch_profile() const;
  const ImageStats& stats() const;
  bool metadata_error() const;
  // Empty, or why the image is read-only though opened read-write (see Open).
  const std::string& open_warning() const;
  // Empty, or why the journal could not be replayed at open.
  const std::string& journal_error() const;
  uint64_t size() const { return header().virtual_disk_size; }

  struct Core;  // the state shared by the request paths (image_core.h)

 private:
  explicit Image(std::unique_ptr<Core> core);
  std::unique_ptr<Core> core_;
};

}  // namespace fvd
