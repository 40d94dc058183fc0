// DirectMetadata: the metadata writer of an image without a journal (journal_size = 0).
//
// Bitmap and table changes go straight into their on-disk regions, one 512-byte sector at a
// time. Unbuffered mode writes the sectors a change touches (FUA) before the guest write
// completes; its data write was FUA already. Buffered mode remembers the touched sectors and
// writes them at the next guest flush, after flushing the data file, so on-disk metadata never
// points at data that is not durable.
//
// CONTRACT
// - The change is committed in memory (CommitUpdate) before Record is called: sectors are
//   encoded from the in-memory stale bitmap and table when their write starts.
// - Sector writes are serialized, so the last write of a sector carries every change committed
//   before it started, whatever order the device completes writes in.
// - Without a journal there is nothing to recover from: after a crash the image stays unclean
//   and read-write opens are refused until the user overrides (`update clean_shutdown=true`).
//   These writes make that override see the best metadata there is.
#pragma once

#include <cstdint>
#include <vector>

#include "core/image/extents.h"
#include "core/image/image_core.h"
#include "core/util/io_buffer.h"

namespace fvd {

class DirectMetadata {
 public:
  explicit DirectMetadata(Image::Core& core) : core_(core) {}

  // Records a committed change of bitmap `blocks` (may be empty) and table entries
  // [first_chunk, end_chunk) (may be empty).
  Task<Status> Record(BlockSpan blocks, uint64_t first_chunk, uint64_t end_chunk);
  // Buffered mode: flushes the data file, then writes every sector recorded since the last
  // write-back. Unbuffered mode: nothing is pending.
  Task<Status> WriteBack();
  bool pending() const { return !bitmap_.empty() || !table_.empty(); }

 private:
  // Region sectors [begin, end).
  struct SectorRange {
    uint64_t begin = UINT64_MAX;
    uint64_t end = 0;
    bool empty() const { return end <= begin; }
    void Add(SectorRange r);
  };
  SectorRange BitmapSectors(BlockSpan blocks) const;
  SectorRange TableSectors(uint64_t first_chunk, uint64_t end_chunk) const;
  // Encodes the sectors from the in-memory metadata, flushes the data file if `flush_data`
  // (after encoding: everything encoded then has its data written), writes them.
  Task<Status> WriteSectors(SectorRange bitmap, SectorRange table, bool flush_data, WriteMode mode);
  IoBuffer EncodeBitmap(SectorRange r) const;
  IoBuffer EncodeTable(SectorRange r) const;
  Task<Status> WriteRegion(uint64_t at, const IoBuffer& bytes, WriteMode mode);

  Image::Core& core_;
  SectorRange bitmap_;  // buffered mode: recorded, not yet written
  SectorRange table_;
  bool writing_ = false;
  WaitList write_done_;
};

}  // namespace fvd
