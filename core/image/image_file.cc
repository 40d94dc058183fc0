#include "core/image/image_file.h"

#include <algorithm>
#include <vector>

#include "core/format/chunk_table.h"
#include "core/format/layout.h"
#include "core/util/io_buffer.h"
#include "core/util/units.h"

namespace fvd {

Status WriteNewImage(BlockDevice& image, BlockDevice* data, const LoopDriver& drive,
                     const format::Header& h, const format::Bitmap* initial_bitmap) {
  FVD_ASSIGN_OR_RETURN(const auto encoded_header, format::EncodeHeader(h));
  const IoBuffer header_bytes(encoded_header.begin(), encoded_header.end());
  if (!h.data_file.empty() && data == nullptr) {
    return Status::InvalidArgument("the header names data file '" + h.data_file +
                                   "' but no data device was given");
  }
  const BlockDevice& data_dev = data != nullptr ? *data : image;
  if (!data_dev.zero_initialized() && format::NeedsZeroInitializedStorage(h)) {
    return Status::InvalidArgument(
        "this image needs zero-initialized storage (need_zero_init, or a non-compact disk "
        "larger than its base) and its data would live on a block device; use "
        "compact_image=on");
  }
  // Zero-length first so that every byte of the new layout reads as zero.
  FVD_RETURN_IF_ERROR(SyncResize(image, drive, 0));
  FVD_RETURN_IF_ERROR(SyncResize(image, drive, format::InitialFileSize(h)));
  if (data != nullptr) {
    FVD_RETURN_IF_ERROR(SyncResize(*data, drive, 0));
    FVD_RETURN_IF_ERROR(SyncResize(*data, drive, h.compact_image ? 0 : h.virtual_disk_size));
  }
  if (!image.zero_initialized()) {
    // A block device keeps its old bytes: zero the metadata area (the journal and bitmap rely
    // on reading zeros where nothing was written).
    IoBuffer zeros(std::min<uint64_t>(h.metadata_size, 1 << 20));
    for (uint64_t at = 0; at < h.metadata_size; at += zeros.size()) {
      const uint64_t n = std::min<uint64_t>(zeros.size(), h.metadata_size - at);
      FVD_RETURN_IF_ERROR(SyncWrite(image, drive, at, std::span(zeros).subspan(0, n))
                              .WithContext("zeroing the metadata area"));
    }
  }
  if (h.compact_image) {
    std::vector<uint32_t> empty(h.table_entries(), format::kEmptyChunk);
    IoBuffer table(h.table_region_size());
    format::EncodeChunkTable(empty, table);
    FVD_RETURN_IF_ERROR(SyncWrite(image, drive, h.table_offset, table).WithContext("chunk table"));
  }
  if (initial_bitmap != nullptr && h.has_bitmap()) {
    IoBuffer bitmap(h.bitmap_size);
    initial_bitmap->Encode(bitmap);
    FVD_RETURN_IF_ERROR(SyncWrite(image, drive, h.bitmap_offset, bitmap).WithContext("bitmap"));
  }
  // The header goes last: until it is written the file is not an FVD image, so a failure
  // half-way leaves nothing that could be opened as one.
  if (data != nullptr) FVD_RETURN_IF_ERROR(SyncFlush(*data, drive).WithContext("data file"));
  FVD_RETURN_IF_ERROR(SyncFlush(image, drive));
  FVD_RETURN_IF_ERROR(SyncWrite(image, drive, 0, header_bytes).WithContext("header"));
  return SyncFlush(image, drive);
}

Result<format::Header> ReadImageHeader(BlockDevice& image, const LoopDriver& drive) {
  const uint64_t size = image.size();
  IoBuffer buf(std::min<uint64_t>(size, format::kHeaderRegionSize));
  FVD_RETURN_IF_ERROR(SyncRead(image, drive, 0, buf));
  FVD_ASSIGN_OR_RETURN(format::Header h, format::DecodeHeader(buf));
  FVD_RETURN_IF_ERROR(format::ValidateHeader(h, size));
  return h;
}

Result<std::vector<format::ProfileEntry>> ReadStoredProfile(BlockDevice& image,
                                                            const LoopDriver& drive,
                                                            const format::Header& h) {
  if (h.prefetch_profile_entries == 0) return std::vector<format::ProfileEntry>{};
  IoBuffer region(format::ProfileRegionSize(h.prefetch_profile_entries));
  FVD_RETURN_IF_ERROR(SyncRead(image, drive, h.prefetch_profile_offset, region)
                          .WithContext("prefetch profile read"));
  return format::DecodeProfileRegion(region, h.prefetch_profile_entries,
                                     h.unit_of_prefetch_profile_entry_len, h.base_img_size);
}

Status WriteStoredProfile(BlockDevice& image, const LoopDriver& drive, const format::Header& h,
                          std::span<const format::ProfileEntry> entries) {
  if (h.prefetch_profile_entries == 0) {
    return Status::InvalidArgument("the image has no prefetch profile region");
  }
  const IoBuffer region = format::EncodeProfileRegion(entries, h.prefetch_profile_entries,
                                                      h.unit_of_prefetch_profile_entry_len);
  FVD_RETURN_IF_ERROR(SyncWrite(image, drive, h.prefetch_profile_offset, region));
  return SyncFlush(image, drive);
}

Result<format::Bitmap> FindZeroBlocks(BlockDevice& base, const LoopDriver& drive,
                                      const format::Header& h) {
  format::Bitmap bitmap(h.bitmap_bits());
  const uint64_t bs = h.block_size;
  const uint64_t piece = std::max<uint64_t>(bs, (uint64_t{1} << 20) / bs * bs);
  const uint64_t end = std::min(base.size(), h.base_img_size);
  IoBuffer buf;
  for (uint64_t at = 0; at < end; at += piece) {
    buf.resize(std::min(piece, end - at));
    FVD_RETURN_IF_ERROR(SyncRead(base, drive, at, buf).WithContext("base image"));
    for (uint64_t b = 0; b < buf.size(); b += bs) {
      const auto first = buf.begin() + static_cast<ptrdiff_t>(b);
      const auto last =
          buf.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(b + bs, buf.size()));
      if (std::all_of(first, last, [](std::byte x) { return x == std::byte{0}; })) {
        bitmap.Set((at + b) / bs);
      }
    }
  }
  // Blocks past the base device's end (a base shorter than its recorded size) read as zeros.
  for (uint64_t b = DivRoundUp(end, bs); b < bitmap.bits(); ++b) bitmap.Set(b);
  return bitmap;
}

}  // namespace fvd
