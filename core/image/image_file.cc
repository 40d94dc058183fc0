#include "core/image/image_file.h"

#include <algorithm>
#include <vector>

#include "core/format/chunk_table.h"
#include "core/format/layout.h"

namespace fvd {

Status WriteNewImage(BlockDevice& image, BlockDevice* data, const LoopDriver& drive,
                     const format::Header& h) {
  FVD_ASSIGN_OR_RETURN(const auto header_bytes, format::EncodeHeader(h));
  if (!h.data_file.empty() && data == nullptr) {
    return Status::InvalidArgument("the header names data file '" + h.data_file +
                                   "' but no data device was given");
  }
  // Zero-length first so that every byte of the new layout reads as zero.
  FVD_RETURN_IF_ERROR(SyncResize(image, drive, 0));
  FVD_RETURN_IF_ERROR(SyncResize(image, drive, format::InitialFileSize(h)));
  if (data != nullptr) {
    FVD_RETURN_IF_ERROR(SyncResize(*data, drive, 0));
    FVD_RETURN_IF_ERROR(SyncResize(*data, drive, h.compact_image ? 0 : h.virtual_disk_size));
  }
  if (h.compact_image) {
    std::vector<uint32_t> empty(h.table_entries(), format::kEmptyChunk);
    std::vector<std::byte> table(h.table_region_size());
    format::EncodeChunkTable(empty, table);
    FVD_RETURN_IF_ERROR(SyncWrite(image, drive, h.table_offset, table).WithContext("chunk table"));
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
  std::vector<std::byte> buf(std::min<uint64_t>(size, format::kHeaderRegionSize));
  FVD_RETURN_IF_ERROR(SyncRead(image, drive, 0, buf));
  FVD_ASSIGN_OR_RETURN(format::Header h, format::DecodeHeader(buf));
  FVD_RETURN_IF_ERROR(format::ValidateHeader(h, size));
  return h;
}

}  // namespace fvd
