#include "core/image/chunk_allocator.h"

#include <algorithm>

#include "core/format/chunk_table.h"

namespace fvd {

ChunkAllocator::ChunkAllocator(const std::vector<uint32_t>& table, uint64_t capacity_chunks)
    : capacity_(capacity_chunks) {
  uint64_t max_used_plus_one = 0;
  std::vector<bool> used(capacity_chunks, false);
  for (uint32_t e : table) {
    if (format::IsEmptyChunk(e)) continue;
    const uint32_t id = format::ChunkId(e);
    max_used_plus_one = std::max<uint64_t>(max_used_plus_one, uint64_t{id} + 1);
    if (id < capacity_chunks) used[id] = true;
  }
  // Everything unreferenced below the capacity may hold data of a write whose record was lost.
  for (uint64_t id = capacity_chunks; id-- > 0;) {
    if (!used[id]) reusable_.push_back(static_cast<uint32_t>(id));
  }
  next_ = std::max(max_used_plus_one, capacity_chunks);
}

std::optional<ChunkAllocator::Chunk> ChunkAllocator::Take() {
  if (!reusable_.empty()) {
    const uint32_t id = reusable_.back();
    reusable_.pop_back();
    return Chunk{id, true};
  }
  if (next_ >= capacity_) return std::nullopt;
  return Chunk{static_cast<uint32_t>(next_++), fresh_hold_garbage_};
}

void ChunkAllocator::Return(uint32_t id) {
  reusable_.push_back(id);
  std::sort(reusable_.begin(), reusable_.end(), std::greater<>());
}

}  // namespace fvd
