// Pure arithmetic of an image's address spaces, for the read and write paths:
// - which parts of a guest range are in the base image and which in the FVD image (against a
//   bitmap snapshot), and
// - where a guest range lives in the data file (through the chunk table when compact).
#pragma once

#include <cstdint>
#include <vector>

#include "core/format/bitmap.h"
#include "core/format/header.h"

namespace fvd {

// A piece of a guest range. `offset` is a guest (virtual) byte offset.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const Extent&) const = default;
};

// Splits [offset, offset + length) into alternating runs, each wholly in the base image
// (`in_base` true: its bitmap bits are 0) or wholly in the FVD image. Bytes at or past
// h.base_img_size are always in FVD. `bitmap` may be null (no base or all data in FVD).
struct SourceRun {
  Extent extent;
  bool in_base = false;
  bool operator==(const SourceRun&) const = default;
};
std::vector<SourceRun> SplitBySource(const format::Header& h, const format::Bitmap* bitmap,
                                     uint64_t offset, uint64_t length);

// The blocks (bitmap bit indexes) [first, last_plus_one) that overlap [offset, offset + length)
// inside the base range. Empty when the range lies past the base.
struct BlockSpan {
  uint64_t first = 0;
  uint64_t end = 0;  // one past the last
  bool empty() const { return end <= first; }
};
BlockSpan BlocksOf(const format::Header& h, uint64_t offset, uint64_t length);

// A guest extent mapped to the data file: `physical` is a data-file byte offset, or
// kUnallocated when its chunk has no storage (reads return zeros).
inline constexpr uint64_t kUnallocated = UINT64_MAX;
struct PhysicalRun {
  Extent extent;
  uint64_t physical = kUnallocated;
  bool operator==(const PhysicalRun&) const = default;
};

// Maps [offset, offset + length) to data-file runs, merging runs that are contiguous in both
// spaces. Non-compact: one run at data_offset + offset. Compact: through `table` (DIRTY bits
// ignored: a dirty chunk's storage is allocated).
std::vector<PhysicalRun> MapToData(const format::Header& h, const std::vector<uint32_t>& table,
                                   uint64_t offset, uint64_t length);

// The fast paths' question: does [offset, offset + length) map to one contiguous run of
// allocated, journaled storage? Then returns its data-file offset; else kUnallocated (the
// caller takes the general path). Allocates nothing.
uint64_t SinglePhysicalRun(const format::Header& h, const std::vector<uint32_t>& table,
                           uint64_t offset, uint64_t length);

}  // namespace fvd
