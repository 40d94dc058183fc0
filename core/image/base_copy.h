// Copying base data into the image in the background: the shared step of copy-on-read and
// whole-image prefetch (FVD-FORMAT.md, "Two bitmaps" and "Ordering between requests").
#pragma once

#include <cstdint>
#include <span>

#include "core/image/image_core.h"

namespace fvd {

// Writes the blocks of `bytes` (base data of guest range [offset, offset + bytes.size()),
// whole blocks) that are still in the base into the image, allocating chunks as needed, and
// sets their fresh bits only (a soft write: the data equals the base, so losing it in a crash
// costs a re-read). A newly allocated chunk is recorded as a guest write's would be, since
// later writes rely on it. With `recheck` false, copies the whole range without consulting
// the fresh bitmap (only the deliberate test bug `cor_skips_recheck` does that).
// REQUIRES: the caller holds a copy lock over LockSpan(offset, bytes.size()).
// Returns the number of bytes written, or the first error (earlier runs stay copied).
Task<Result<uint64_t>> CopyBaseIntoImage(Image::Core& c, uint64_t offset,
                                         std::span<const std::byte> bytes, bool recheck);

}  // namespace fvd
