#include "core/format/chunk_table.h"

#include <algorithm>
#include <string>

#include "core/util/endian.h"

namespace fvd::format {

Result<std::vector<uint32_t>> DecodeChunkTable(std::span<const std::byte> bytes, uint64_t entries) {
  if (bytes.size() / 4 < entries) {
    return Status::Corruption("chunk table of " + std::to_string(entries) + " entries needs " +
                              std::to_string(entries * 4) + " bytes, found " +
                              std::to_string(bytes.size()));
  }
  std::vector<uint32_t> table(entries);
  for (uint64_t i = 0; i < entries; ++i) {
    const uint32_t e = LoadLE32(bytes, i * 4);
    if (IsDirtyChunk(e)) {
      return Status::Corruption("chunk table entry " + std::to_string(i) + " (table byte " +
                                std::to_string(i * 4) + ") = " + std::to_string(e) +
                                " has the in-memory DIRTY bit set");
    }
    table[i] = e;
  }
  // Duplicates: sort (id, index) pairs so the message can name both entries.
  std::vector<std::pair<uint32_t, uint64_t>> ids;
  for (uint64_t i = 0; i < entries; ++i) {
    if (!IsEmptyChunk(table[i])) ids.emplace_back(table[i], i);
  }
  std::sort(ids.begin(), ids.end());
  for (size_t k = 1; k < ids.size(); ++k) {
    if (ids[k].first == ids[k - 1].first) {
      return Status::Corruption("chunk table entries " + std::to_string(ids[k - 1].second) +
                                " and " + std::to_string(ids[k].second) +
                                " both map physical chunk " + std::to_string(ids[k].first));
    }
  }
  return table;
}

void EncodeChunkTable(std::span<const uint32_t> table, std::span<std::byte> out) {
  std::fill(out.begin(), out.end(), std::byte{0xFF});
  for (size_t i = 0; i < table.size(); ++i) {
    StoreLE32(out, i * 4, IsDirtyChunk(table[i]) ? kEmptyChunk : table[i]);
  }
}

}  // namespace fvd::format
