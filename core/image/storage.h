// Storage helpers shared by the write path and copy-on-read: chunk allocation (with growth of
// the data file), data writes through the chunk table, and the journal update of a range.
#pragma once

#include <span>
#include <vector>

#include "core/image/extents.h"
#include "core/image/image_core.h"
#include "core/image/journal.h"

namespace fvd {

struct AllocatedChunk {
  uint64_t index = 0;  // virtual chunk
  ChunkAllocator::Chunk chunk;
};

// The range a request must lock: block-aligned, or chunk-aligned in a compact image (two
// requests must never allocate the same chunk).
Extent LockSpan(const Image::Core& c, uint64_t offset, uint64_t length);

// True unless the image is compact and a chunk overlapping [offset, offset + length) is
// unallocated or dirty (its allocating write has not journaled it).
bool ChunksJournaled(const Image::Core& c, uint64_t offset, uint64_t length);

// True if a guest write of [offset, offset + length) must update metadata: a touched block is
// not yet durably in the image (stale bit 0), or a touched chunk is unallocated or dirty.
bool NeedsMetadata(const Image::Core& c, uint64_t offset, uint64_t length);

// Gives storage to every unallocated chunk overlapping [begin, end): entries become
// id | DIRTY. Reused chunks are zero-filled before their entry points at them (they may hold a
// lost write's data), so a read through a dirty entry never sees garbage. On failure nothing
// stays allocated. REQUIRES: the caller holds a lock over the chunks.
Task<Result<std::vector<AllocatedChunk>>> AllocateChunks(Image::Core& c, uint64_t begin,
                                                         uint64_t end);
// Gives allocated chunks back (their write failed): entries return to empty.
void UndoAllocation(Image::Core& c, const std::vector<AllocatedChunk>& chunks);

// Writes guest bytes at `offset` to the data file through the table (every chunk allocated).
Task<Status> WriteData(Image::Core& c, uint64_t offset, std::span<const std::byte> data,
                       WriteMode mode);

// The blocks of [offset, offset + length) are in the image now: their fresh bits (in memory
// only; the journal or a copy's record makes them durable). Nothing without a bitmap in use.
void MarkFresh(Image::Core& c, uint64_t offset, uint64_t length);

// The journal update for a write of [begin, end): bitmap bits if `bitmap`, the table entries
// of its chunks if compact.
JournalUpdate MakeUpdate(const Image::Core& c, uint64_t begin, uint64_t end, bool bitmap);
// After the update is journaled: stale bits set (if `bitmap`), dirty entries clean.
void CommitUpdate(Image::Core& c, uint64_t begin, uint64_t end, bool bitmap);

// Makes the metadata change of a completed data write of [begin, end) durable as the journal
// mode promises, then commits it: through the journal, or straight into the metadata regions
// when the image has none (direct_metadata.h).
Task<Status> RecordUpdate(Image::Core& c, uint64_t begin, uint64_t end, bool bitmap);

}  // namespace fvd
