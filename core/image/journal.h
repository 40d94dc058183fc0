// The metadata journal writer (FVD-FORMAT.md "Journal modes"; core/format/FORMAT.md "Journal").
//
// Unbuffered mode: Append encodes an update into its own sectors and writes them with FUA
// before returning. Buffered mode: Append queues the update in memory and returns; the queue is
// written when a guest flush commits it, when the next update would overflow the buffer size
// (in the background; up to 8 buffers' worth queue up behind it), or when the flush timer
// fires. Either way a record is written only after the data it describes is durable:
// unbuffered data writes are FUA, and a buffered write-out flushes the data file first.
//
// When the journal is full it is recycled: snapshot the stale bitmap and the table, flush the
// data file, write the snapshot to the metadata regions (table, flush, bitmap: WriteRegions),
// flush, bump the epoch in the header, restart at sector 0. Appends arriving meanwhile wait; a
// recycle waits for journal writes in flight.
#pragma once

#include <cstdint>
#include <vector>

#include "core/format/journal_sector.h"
#include "core/image/image_core.h"

namespace fvd {

// One guest write's metadata change: bitmap bits of guest sectors
// [first_sector, first_sector + num_sectors) (num_sectors == 0: none) and table entries
// [first_entry, first_entry + entries.size()) (empty: none).
struct JournalUpdate {
  uint64_t first_sector = 0;
  uint64_t num_sectors = 0;
  uint32_t first_entry = 0;
  std::vector<uint32_t> entries;
};

// Sectors for `u`, each self-contained: a group of table entries and the bitmap record for the
// part of the range those chunks cover. `chunk_sectors` is chunk_size / 512 (0 if not compact).
std::vector<format::JournalSectorBytes> EncodeUpdates(const std::vector<JournalUpdate>& updates,
                                                      format::JournalFormat fmt, uint64_t epoch,
                                                      uint64_t chunk_sectors);

class Journal {
 public:
  explicit Journal(Image::Core& core);
  ~Journal();

  // Records `u`. Unbuffered: returns once durable. Buffered: once queued (durable after the
  // next Commit); waits only when the queue behind a write-out in flight is full.
  Task<Status> Append(JournalUpdate u);
  // Buffered mode only, for synchronous callers (Image::TryWriteNow): true if Append(u) would
  // queue `u` now, without waiting for a write-out in flight.
  bool CanAppendNow(const JournalUpdate& u) const;
  // Buffered mode only: queues `u` as Append would and returns true, if CanAppendNow(u); else
  // returns false and does nothing. Never waits.
  bool TryAppendNow(JournalUpdate u);
  // Buffered: writes the queue out (data file flushed first) and flushes the image file, then a
  // separate data file. Unbuffered: nothing to write (every record is already durable).
  Task<Status> Commit();
  // Waits for journal I/O in flight and cancels the timer. Call before Close writes metadata.
  Task<void> Quiesce();
  // Where the next sector goes, for tests.
  uint64_t next_sector() const { return next_sector_; }
  uint64_t capacity_sectors() const { return capacity_; }

 private:
  // True if `u` fits in the queue now; `tail` becomes the queue's last sector with `u` encoded
  // after it.
  bool Fits(const JournalUpdate& u, std::vector<format::JournalSectorBuilder>& tail) const;
  // Queues `u` (moved from) if it fits, first starting a background write-out of a full
  // buffer; false (and `u` untouched) when a write-out is in flight and the queue behind it is
  // full.
  bool TryEnqueue(JournalUpdate& u);
  // Queues `u`; `tail` is the queue's last sector with `u` encoded after it.
  void Enqueue(JournalUpdate u, std::vector<format::JournalSectorBuilder> tail);
  // Encodes `updates` with the epoch in force, reserves their sectors and writes them.
  Task<Status> EncodeAndWrite(const std::vector<JournalUpdate>& updates, WriteMode mode);
  Task<Result<uint64_t>> Reserve(uint64_t sectors);
  void EndWrite();
  Task<Status> Recycle();
  Task<Status> WriteSectors(uint64_t first, const std::vector<format::JournalSectorBytes>& s,
                            WriteMode mode);
  Task<Status> WriteOut();
  // How much the queue may hold before a writer waits: one buffer, or while a write-out is in
  // flight (its data flush can take longer than the guest takes to fill a buffer)
  // kBuffersBehindWriteOut buffers.
  static constexpr uint64_t kBuffersBehindWriteOut = 8;
  uint64_t QueueLimitBytes() const;
  uint64_t QueuedBytes() const {
    return (queued_full_sectors_ + queue_tail_.size()) * format::kSectorSize;
  }
  // Writes the queue out without a waiting caller (a full buffer, the timer).
  void StartBackgroundWriteOut();
  void ArmTimer();

  Image::Core& core_;
  format::JournalFormat format_;
  uint64_t capacity_;  // sectors
  uint64_t chunk_sectors_;
  uint64_t next_sector_ = 0;
  uint64_t writes_in_flight_ = 0;
  bool recycling_ = false;
  WaitList recycle_done_;
  WaitList writes_drained_;
  // Buffered mode.
  std::vector<JournalUpdate> queue_;
  // What the queue encodes to (the epoch aside): this many sectors, then the one being filled
  // (none when the queue is empty).
  uint64_t queued_full_sectors_ = 0;
  std::vector<format::JournalSectorBuilder> queue_tail_;
  bool writing_out_ = false;
  WaitList write_out_done_;
  TimerId timer_ = 0;
  uint64_t background_writeouts_ = 0;
  WaitList background_writeouts_done_;
};

}  // namespace fvd
