#include "core/image/direct_metadata.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/format/chunk_table.h"
#include "core/format/constants.h"

namespace fvd {
namespace {

constexpr uint64_t kSector = format::kSectorSize;
constexpr uint64_t kEntriesPerSector = kSector / 4;

}  // namespace

void DirectMetadata::SectorRange::Add(SectorRange r) {
  if (r.empty()) return;
  begin = std::min(begin, r.begin);
  end = std::max(end, r.end);
}

DirectMetadata::SectorRange DirectMetadata::BitmapSectors(BlockSpan blocks) const {
  if (blocks.empty()) return {};
  return {blocks.first / 8 / kSector, (blocks.end - 1) / 8 / kSector + 1};
}

DirectMetadata::SectorRange DirectMetadata::TableSectors(uint64_t first_chunk,
                                                         uint64_t end_chunk) const {
  if (end_chunk <= first_chunk) return {};
  return {first_chunk / kEntriesPerSector, (end_chunk - 1) / kEntriesPerSector + 1};
}

Task<Status> DirectMetadata::Record(BlockSpan blocks, uint64_t first_chunk, uint64_t end_chunk) {
  const SectorRange bitmap = BitmapSectors(blocks);
  const SectorRange table = TableSectors(first_chunk, end_chunk);
  if (core_.buffered()) {
    bitmap_.Add(bitmap);
    table_.Add(table);
    co_return Status::Ok();
  }
  co_return co_await WriteSectors(bitmap, table, /*flush_data=*/false, WriteMode::kFua);
}

Task<Status> DirectMetadata::WriteBack() {
  if (!pending()) co_return Status::Ok();
  const SectorRange bitmap = bitmap_, table = table_;
  bitmap_ = table_ = {};
  Status s = co_await WriteSectors(bitmap, table, /*flush_data=*/true, WriteMode::kCached);
  if (!s.ok()) {
    bitmap_.Add(bitmap);
    table_.Add(table);
  }
  co_return s;
}

Task<Status> DirectMetadata::WriteSectors(SectorRange bitmap, SectorRange table, bool flush_data,
                                          WriteMode mode) {
  while (writing_) co_await write_done_.Wait();
  writing_ = true;
  const IoBuffer bitmap_bytes = EncodeBitmap(bitmap);
  const IoBuffer table_bytes = EncodeTable(table);
  Status s;
  if (flush_data) s = co_await core_.FlushData();
  // The table first, as Image::Core::WriteRegions: a bit whose chunk the table on disk does not
  // map reads zeros. With FUA writes that is also the order on disk; cached ones are ordered by
  // nothing until the flush, but an image without a journal is not recovered after a crash.
  if (s.ok() && !table.empty()) {
    s = co_await WriteRegion(core_.header.table_offset + table.begin * kSector, table_bytes, mode);
  }
  if (s.ok() && !bitmap.empty()) {
    s = co_await WriteRegion(core_.header.bitmap_offset + bitmap.begin * kSector, bitmap_bytes,
                             mode);
  }
  writing_ = false;
  write_done_.NotifyAll(core_.env.scheduler);
  if (!s.ok()) co_return core_.EnterMetadataError(s, "in-place metadata write");
  co_return Status::Ok();
}

IoBuffer DirectMetadata::EncodeBitmap(SectorRange r) const {
  if (r.empty()) return {};
  const auto bytes = core_.stale.bytes();
  IoBuffer out((r.end - r.begin) * kSector, std::byte{0});
  const uint64_t from = r.begin * kSector;
  const uint64_t n = std::min<uint64_t>(out.size(), bytes.size() - from);
  std::memcpy(out.data(), bytes.data() + from, n);
  return out;
}

IoBuffer DirectMetadata::EncodeTable(SectorRange r) const {
  if (r.empty()) return {};
  IoBuffer out((r.end - r.begin) * kSector);
  const uint64_t first = r.begin * kEntriesPerSector;
  const uint64_t count = std::min<uint64_t>(r.end * kEntriesPerSector, core_.table.size()) - first;
  format::EncodeChunkTable(std::span<const uint32_t>(core_.table).subspan(first, count), out);
  return out;
}

Task<Status> DirectMetadata::WriteRegion(uint64_t at, const IoBuffer& bytes, WriteMode mode) {
  co_return co_await AwaitIo(
      [&](IoCallback cb) { return core_.image_dev.SubmitWrite(at, bytes, mode, std::move(cb)); });
}

}  // namespace fvd
