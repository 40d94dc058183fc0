// Image::Check (declared in core/image/image.h).
#include <algorithm>
#include <string>
#include <vector>

#include "core/check/check.h"
#include "core/format/chunk_table.h"
#include "core/image/image_core.h"

namespace fvd {

CheckReport Image::Check() const {
  const Core& c = *core_;
  CheckReport r;
  r.clean_shutdown = !c.stats.recovered;
  r.replayed_sectors = c.stats.replayed_sectors;
  r.skipped_sectors = c.stats.skipped_sectors;
  if (c.stats.journal_unreplayable && !c.stats.journal_discarded) {
    r.clean_shutdown = false;
    r.journal_unreplayable = true;
    r.corruptions.push_back("journal at byte " + std::to_string(c.header.journal_offset) +
                            " is corrupt beyond replay: " + c.journal_error +
                            "; the bitmap and table as last written are in use, read-only");
  }
  if (!c.compact()) return r;
  const uint64_t start = c.header.data_offset(), size = c.data_dev.size();
  r.capacity_chunks = size <= start ? 0 : (size - start) / c.header.chunk_size;
  std::vector<bool> used(r.capacity_chunks, false);
  uint64_t highest_plus_one = 0;
  for (uint64_t v = 0; v < c.table.size(); ++v) {
    if (format::IsEmptyChunk(c.table[v])) continue;
    const uint64_t id = format::ChunkId(c.table[v]);
    ++r.allocated_chunks;
    highest_plus_one = std::max(highest_plus_one, id + 1);
    if (id >= r.capacity_chunks) {
      r.corruptions.push_back(
          "chunk table entry " + std::to_string(v) + " maps chunk " + std::to_string(id) +
          " at data byte " + std::to_string(start + id * c.header.chunk_size) +
          ", past the end of the data file (" + std::to_string(size) + " bytes)");
      continue;
    }
    used[id] = true;
  }
  for (uint64_t id = 0; id < std::min(highest_plus_one, r.capacity_chunks); ++id) {
    if (!used[id]) ++r.leaked_chunks;
  }
  return r;
}

}  // namespace fvd
