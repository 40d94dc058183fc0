// The chunk table of a compact image: one little-endian uint32 per virtual chunk holding its
// physical chunk id, or kEmptyChunk. kDirtyChunk marks, in memory only, a chunk allocated but
// not yet journaled; it never reaches disk.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/format/constants.h"
#include "core/util/status.h"

namespace fvd::format {

// Decodes `entries` table entries. Fails (naming the entry index and byte offset) if the bytes
// are too few, an entry carries the in-memory DIRTY bit, or two entries map the same physical
// chunk.
Result<std::vector<uint32_t>> DecodeChunkTable(std::span<const std::byte> bytes, uint64_t entries);

// Encodes `table` into `out` (at least table.size() * 4 bytes; the rest is filled with
// kEmptyChunk bytes). DIRTY entries are written as kEmptyChunk: their journal record is not
// durable yet, so their data may not be either, and the on-disk table must not point at it.
void EncodeChunkTable(std::span<const uint32_t> table, std::span<std::byte> out);

inline bool IsEmptyChunk(uint32_t entry) {
  return entry == kEmptyChunk;
}
inline bool IsDirtyChunk(uint32_t entry) {
  return entry != kEmptyChunk && (entry & kDirtyChunk);
}
// The physical chunk id of an allocated entry (DIRTY bit cleared). REQUIRES: !IsEmptyChunk.
inline uint32_t ChunkId(uint32_t entry) {
  return entry & ~kDirtyChunk;
}

}  // namespace fvd::format
