// Creating an image's files and reading a header back: the glue between format/ and a
// BlockDevice, with blocking I/O (for fvd-img and set-up code, not request paths).
#pragma once

#include <span>
#include <vector>

#include "core/format/bitmap.h"
#include "core/format/header.h"
#include "core/format/profile_region.h"
#include "core/seam/block_device.h"
#include "core/seam/sync_io.h"

namespace fvd {

// Writes a new, empty image described by `h` (from format::PlanImage) onto `image`, replacing
// whatever it held: truncates it, sizes it (format::InitialFileSize), fills the chunk table
// with "not allocated", writes the header last and flushes. Bitmap and journal rely on fresh
// bytes reading as zeros. `data`, when h names a separate data file, is sized the same way
// (virtual size for a non-compact image, empty for a compact one); else pass nullptr.
// `initial_bitmap`, when given, is written as the bitmap (from FindZeroBlocks).
Status WriteNewImage(BlockDevice& image, BlockDevice* data, const LoopDriver& drive,
                     const format::Header& h, const format::Bitmap* initial_bitmap = nullptr);

// detect_sparse_hole: a bitmap with the bits set of every block of `base` that reads as all
// zeros, so reads of them come from the (zero-initialized) image instead of the base. Reads the
// whole base, `h.block_size`-aligned pieces of up to 1 MiB at a time.
Result<format::Bitmap> FindZeroBlocks(BlockDevice& base, const LoopDriver& drive,
                                      const format::Header& h);

// Reads, decodes and validates the header of `image` (format::DecodeHeader and
// format::ValidateHeader against the device size).
Result<format::Header> ReadImageHeader(BlockDevice& image, const LoopDriver& drive);

// The prefetch profile stored in `image` (header `h`): empty when it has no profile region or
// nothing was recorded yet; a damaged region is an error naming what is wrong.
Result<std::vector<format::ProfileEntry>> ReadStoredProfile(BlockDevice& image,
                                                            const LoopDriver& drive,
                                                            const format::Header& h);

// Writes `entries` (at most the region's capacity of them) into the profile region of `image`
// and flushes. Fails if the header has no region.
Status WriteStoredProfile(BlockDevice& image, const LoopDriver& drive, const format::Header& h,
                          std::span<const format::ProfileEntry> entries);

}  // namespace fvd
