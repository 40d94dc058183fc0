#include "core/image/extents.h"

#include <algorithm>

#include "core/format/chunk_table.h"

namespace fvd {

BlockSpan BlocksOf(const format::Header& h, uint64_t offset, uint64_t length) {
  if (h.block_size == 0 || length == 0 || offset >= h.base_img_size) return {};
  const uint64_t end = std::min(offset + length, h.base_img_size);
  return {offset / h.block_size, (end + h.block_size - 1) / h.block_size};
}

std::vector<SourceRun> SplitBySource(const format::Header& h, const format::Bitmap* bitmap,
                                     uint64_t offset, uint64_t length) {
  std::vector<SourceRun> runs;
  auto add = [&](uint64_t off, uint64_t len, bool in_base) {
    if (len == 0) return;
    if (!runs.empty() && runs.back().in_base == in_base &&
        runs.back().extent.offset + runs.back().extent.length == off) {
      runs.back().extent.length += len;
    } else {
      runs.push_back({{off, len}, in_base});
    }
  };
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  if (bitmap != nullptr && h.block_size > 0) {
    while (pos < end && pos < h.base_img_size) {
      const uint64_t block = pos / h.block_size;
      const uint64_t block_end = std::min({(block + 1) * h.block_size, end, h.base_img_size});
      add(pos, block_end - pos, !bitmap->Test(block));
      pos = block_end;
    }
  }
  add(pos, end - pos, false);
  return runs;
}

std::vector<PhysicalRun> MapToData(const format::Header& h, const std::vector<uint32_t>& table,
                                   uint64_t offset, uint64_t length) {
  if (!h.compact_image) return {{{offset, length}, h.data_offset() + offset}};
  std::vector<PhysicalRun> runs;
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end) {
    const uint64_t chunk = pos / h.chunk_size;
    const uint64_t in_chunk = pos % h.chunk_size;
    const uint64_t len = std::min(h.chunk_size - in_chunk, end - pos);
    const uint32_t entry = table[chunk];
    const uint64_t phys =
        format::IsEmptyChunk(entry)
            ? kUnallocated
            : h.data_offset() + uint64_t{format::ChunkId(entry)} * h.chunk_size + in_chunk;
    PhysicalRun* last = runs.empty() ? nullptr : &runs.back();
    const bool contiguous = last != nullptr && last->extent.offset + last->extent.length == pos &&
                            ((phys == kUnallocated && last->physical == kUnallocated) ||
                             (phys != kUnallocated && last->physical != kUnallocated &&
                              last->physical + last->extent.length == phys));
    if (contiguous) {
      last->extent.length += len;
    } else {
      runs.push_back({{pos, len}, phys});
    }
    pos += len;
  }
  return runs;
}

uint64_t SinglePhysicalRun(const format::Header& h, const std::vector<uint32_t>& table,
                           uint64_t offset, uint64_t length) {
  if (!h.compact_image) return h.data_offset() + offset;
  const uint64_t chunk = offset / h.chunk_size;
  if (length == 0 || (offset + length - 1) / h.chunk_size != chunk) return kUnallocated;
  const uint32_t entry = table[chunk];
  if (format::IsEmptyChunk(entry) || format::IsDirtyChunk(entry)) return kUnallocated;
  return h.data_offset() + uint64_t{format::ChunkId(entry)} * h.chunk_size + offset % h.chunk_size;
}

}  // namespace fvd
