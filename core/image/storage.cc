#include "core/image/storage.h"

#include <algorithm>

#include "core/format/chunk_table.h"
#include "core/image/direct_metadata.h"
#include "core/image/extents.h"
#include "core/util/units.h"

namespace fvd {
namespace {

uint64_t CapacityChunks(const Image::Core& c, uint64_t data_size) {
  const uint64_t start = c.header.data_offset();
  return data_size <= start ? 0 : (data_size - start) / c.header.chunk_size;
}

// Grows the data file by storage_grow_unit (whole chunks). One growth at a time.
Task<Status> Grow(Image::Core& c) {
  if (c.growing) {
    co_await c.grow_done.Wait();
    co_return Status::Ok();
  }
  c.growing = true;
  const uint64_t grow_chunks =
      std::max<uint64_t>(1, c.header.storage_grow_unit / c.header.chunk_size);
  const uint64_t old_size = c.data_dev.size();
  const uint64_t new_size =
      c.header.data_offset() + (c.allocator.capacity() + grow_chunks) * c.header.chunk_size;
  Status s = co_await AwaitIo(
      [&](IoCallback cb) { return c.data_dev.SubmitResize(new_size, std::move(cb)); });
  c.growing = false;
  c.grow_done.NotifyAll(c.env.scheduler);
  if (!s.ok()) {
    co_return Status::NoSpace("cannot grow the data file from " + std::to_string(old_size) +
                              " to " + std::to_string(new_size) + " bytes: " + s.ToString());
  }
  ++c.stats.storage_grows;
  c.allocator.SetCapacity(CapacityChunks(c, c.data_dev.size()));
  co_return Status::Ok();
}

// A chunk to allocate, growing the data file when none is left. A table that maps a chunk past
// the end of the data file (a corrupt image) leaves fresh ids there: growing the file to reach
// them could take it to terabytes, so the write fails instead (found by open_image_fuzz).
Task<Result<ChunkAllocator::Chunk>> TakeChunk(Image::Core& c) {
  for (;;) {
    if (auto chunk = c.allocator.Take()) co_return *chunk;
    if (c.allocator.high_water() > c.allocator.capacity()) {
      co_return Status::Corruption(
          "the chunk table maps chunk " + std::to_string(c.allocator.high_water() - 1) +
          ", past the end of the data file (room for " + std::to_string(c.allocator.capacity()) +
          " chunks): not growing the file to match (fvd-img check names the entry)");
    }
    FVD_CO_RETURN_IF_ERROR(co_await Grow(c));
  }
}

Task<Status> ZeroChunk(Image::Core& c, uint32_t id) {
  IoBuffer zeros(c.header.chunk_size);
  const uint64_t at = c.header.data_offset() + uint64_t{id} * c.header.chunk_size;
  co_return co_await AwaitIo([&](IoCallback cb) {
    return c.data_dev.SubmitWrite(at, zeros, c.data_write_mode(), std::move(cb));
  });
}

}  // namespace

Extent LockSpan(const Image::Core& c, uint64_t offset, uint64_t length) {
  const uint64_t unit =
      c.compact() ? c.header.chunk_size : (c.header.block_size > 0 ? c.header.block_size : 512);
  const uint64_t begin = offset / unit * unit;
  return {begin, RoundUp(offset + length, unit) - begin};
}

bool ChunksJournaled(const Image::Core& c, uint64_t offset, uint64_t length) {
  if (!c.compact()) return true;
  const uint64_t last = (offset + length - 1) / c.header.chunk_size;
  for (uint64_t i = offset / c.header.chunk_size; i <= last; ++i) {
    if (format::IsEmptyChunk(c.table[i]) || format::IsDirtyChunk(c.table[i])) return false;
  }
  return true;
}

bool NeedsMetadata(const Image::Core& c, uint64_t offset, uint64_t length) {
  if (c.use_bitmap) {
    const BlockSpan b = BlocksOf(c.header, offset, length);
    if (!b.empty() && !c.stale.AllSet(b.first, b.end - b.first)) return true;
  }
  return !ChunksJournaled(c, offset, length);
}

Task<Result<std::vector<AllocatedChunk>>> AllocateChunks(Image::Core& c, uint64_t begin,
                                                         uint64_t end) {
  std::vector<AllocatedChunk> out;
  if (!c.compact()) co_return out;
  const uint64_t last = (end - 1) / c.header.chunk_size;
  for (uint64_t i = begin / c.header.chunk_size; i <= last; ++i) {
    if (!format::IsEmptyChunk(c.table[i])) continue;
    auto chunk = co_await TakeChunk(c);
    if (!chunk.ok()) {
      UndoAllocation(c, out);
      co_return chunk.status();
    }
    ++c.stats.chunks_allocated;
    if (chunk->may_hold_garbage) {
      ++c.stats.chunks_reused;
      Status s = co_await ZeroChunk(c, chunk->id);
      if (!s.ok()) {
        c.allocator.Return(chunk->id);
        UndoAllocation(c, out);
        co_return s;
      }
    }
    // Only now does the entry point at the chunk: a read through it (a concurrent read of
    // another part of the chunk) sees zeros or data written since, never old garbage.
    c.table[i] = chunk->id | format::kDirtyChunk;
    out.push_back({i, *chunk});
  }
  co_return out;
}

void UndoAllocation(Image::Core& c, const std::vector<AllocatedChunk>& chunks) {
  for (const AllocatedChunk& a : chunks) {
    c.table[a.index] = format::kEmptyChunk;
    c.allocator.Return(a.chunk.id);
  }
}

Task<Status> WriteData(Image::Core& c, uint64_t offset, std::span<const std::byte> data,
                       WriteMode mode) {
  for (const PhysicalRun& run : MapToData(c.header, c.table, offset, data.size())) {
    if (run.physical == kUnallocated)
      co_return Status::Internal("data write to an unallocated chunk");
    auto part = data.subspan(run.extent.offset - offset, run.extent.length);
    Status s = co_await AwaitIo([&](IoCallback cb) {
      return c.data_dev.SubmitWrite(run.physical, part, mode, std::move(cb));
    });
    if (!s.ok()) co_return s.WithContext("data write");
  }
  co_return Status::Ok();
}

void MarkFresh(Image::Core& c, uint64_t offset, uint64_t length) {
  if (!c.use_bitmap) return;
  const BlockSpan b = BlocksOf(c.header, offset, length);
  if (!b.empty()) c.fresh.SetRange(b.first, b.end - b.first);
}

JournalUpdate MakeUpdate(const Image::Core& c, uint64_t begin, uint64_t end, bool bitmap) {
  JournalUpdate u;
  if (bitmap && c.use_bitmap && begin < c.header.base_img_size) {
    u.first_sector = begin / format::kSectorSize;
    u.num_sectors = (std::min(end, c.header.base_img_size) - begin) / format::kSectorSize;
  }
  if (c.compact()) {
    const uint64_t first = begin / c.header.chunk_size;
    const uint64_t last = (end - 1) / c.header.chunk_size;
    u.first_entry = static_cast<uint32_t>(first);
    for (uint64_t i = first; i <= last; ++i) u.entries.push_back(format::ChunkId(c.table[i]));
  }
  return u;
}

void CommitUpdate(Image::Core& c, uint64_t begin, uint64_t end, bool bitmap) {
  if (bitmap && c.use_bitmap) {
    const BlockSpan b = BlocksOf(c.header, begin, end - begin);
    if (!b.empty()) c.stale.SetRange(b.first, b.end - b.first);
  }
  if (c.compact()) {
    const uint64_t last = (end - 1) / c.header.chunk_size;
    for (uint64_t i = begin / c.header.chunk_size; i <= last; ++i) {
      if (format::IsDirtyChunk(c.table[i])) c.table[i] = format::ChunkId(c.table[i]);
    }
  }
}

Task<Status> RecordUpdate(Image::Core& c, uint64_t begin, uint64_t end, bool bitmap) {
  if (c.journal != nullptr) {
    FVD_CO_RETURN_IF_ERROR(co_await c.journal->Append(MakeUpdate(c, begin, end, bitmap)));
    CommitUpdate(c, begin, end, bitmap);
    co_return Status::Ok();
  }
  if (c.direct == nullptr) co_return Status::Internal("metadata change without a journal writer");
  CommitUpdate(c, begin, end, bitmap);
  const BlockSpan blocks =
      bitmap && c.use_bitmap ? BlocksOf(c.header, begin, end - begin) : BlockSpan{};
  uint64_t first_chunk = 0, end_chunk = 0;
  if (c.compact()) {
    first_chunk = begin / c.header.chunk_size;
    end_chunk = (end - 1) / c.header.chunk_size + 1;
  }
  co_return co_await c.direct->Record(blocks, first_chunk, end_chunk);
}

}  // namespace fvd
