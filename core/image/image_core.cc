#include "core/image/image_core.h"

#include <algorithm>

#include "core/format/chunk_table.h"
#include "core/image/direct_metadata.h"
#include "core/image/extents.h"
#include "core/image/journal.h"
#include "core/image/prefetch_profile.h"
#include "core/image/prefetcher.h"

namespace fvd {

Image::Core::Core(ImageEnv e, ImageDevices d, ImageOptions o)
    : env(e),
      options(o),
      image_dev(*d.image),
      data_dev(d.data != nullptr ? *d.data : *d.image),
      base_dev(d.base),
      locks(e.scheduler) {}

Image::Core::~Core() = default;

Status Image::Core::EnterMetadataError(const Status& s, const std::string& what) {
  if (!metadata_error) {
    metadata_error = true;
    metadata_error_what = "image refuses writes after a failed metadata write (" + what + ": " +
                          s.ToString() + "); reads go on; reopen the image to recover";
    if (options.on_metadata_error) options.on_metadata_error();
  }
  return s.WithContext(what);
}

Status Image::Core::CheckRange(uint64_t offset, uint64_t length) const {
  if (offset % format::kSectorSize != 0 || length % format::kSectorSize != 0) {
    return Status::InvalidArgument("request at offset " + std::to_string(offset) + " length " +
                                   std::to_string(length) + " is not sector (512-byte) aligned");
  }
  if (offset > header.virtual_disk_size || length > header.virtual_disk_size - offset) {
    return Status::InvalidArgument("request [" + std::to_string(offset) + ", +" +
                                   std::to_string(length) + ") is past the virtual disk end " +
                                   std::to_string(header.virtual_disk_size));
  }
  if (closed) return Status::InvalidArgument("image is closed");
  return Status::Ok();
}

Status Image::Core::CheckWritable() const {
  if (read_only()) {
    return Status::ReadOnly(open_warning.empty() ? "image is open read-only"
                                                 : "image is read-only: " + open_warning);
  }
  if (metadata_error) return Status::ReadOnly(metadata_error_what);
  return Status::Ok();
}

Task<Status> Image::Core::FlushData() {
  ++stats.data_flushes;
  co_return co_await AwaitIo([&](IoCallback cb) { return data_dev.SubmitFlush(std::move(cb)); });
}

Task<Status> Image::Core::FlushImage() {
  ++stats.image_flushes;
  co_return co_await AwaitIo([&](IoCallback cb) { return image_dev.SubmitFlush(std::move(cb)); });
}

Task<Status> Image::Core::WriteHeader() {
  while (header_writing) co_await header_written.Wait();
  header_writing = true;
  Status s;
  auto encoded = format::EncodeHeader(header);
  if (encoded.ok()) {
    const IoBuffer bytes(encoded->begin(), encoded->end());
    s = co_await AwaitIo([&](IoCallback cb) {
      return image_dev.SubmitWrite(0, bytes, WriteMode::kFua, std::move(cb));
    });
    s = s.WithContext("header write");
  } else {
    s = encoded.status();
  }
  header_writing = false;
  header_written.NotifyAll(env.scheduler);
  co_return s;
}

Task<Status> Image::Core::CommitMetadata() {
  if (journal != nullptr) co_return co_await journal->Commit();
  if (direct != nullptr && direct->pending()) {
    FVD_CO_RETURN_IF_ERROR(co_await direct->WriteBack());
    co_return co_await FlushImage();
  }
  co_return co_await FlushData();
}

Task<Status> Image::Core::ReadBase(uint64_t offset, std::span<std::byte> buf) {
  if (base_dev == nullptr) co_return Status::Internal("a base read without a base device");
  ++stats.base_reads;
  stats.base_bytes_read += buf.size();
  const uint64_t base_len = base_dev->size();
  const uint64_t have = offset >= base_len ? 0 : std::min<uint64_t>(buf.size(), base_len - offset);
  std::fill(buf.begin() + static_cast<ptrdiff_t>(have), buf.end(), std::byte{0});
  if (have == 0) co_return Status::Ok();
  Status s = co_await AwaitIo([&](IoCallback cb) {
    return base_dev->SubmitRead(offset, buf.subspan(0, have), std::move(cb));
  });
  co_return s.WithContext("base image read");
}

Task<Status> Image::Core::ReadData(uint64_t offset, std::span<std::byte> buf) {
  for (const PhysicalRun& run : MapToData(header, table, offset, buf.size())) {
    auto part = buf.subspan(run.extent.offset - offset, run.extent.length);
    // A dirty chunk (its allocation not yet journaled) is read like any other: its storage
    // holds zeros (AllocateChunks zeroes reused chunks before the entry points at them) or
    // what writes since put there, and those are the blocks the fresh bitmap sends here.
    if (run.physical == kUnallocated) {
      std::fill(part.begin(), part.end(), std::byte{0});
      continue;
    }
    Status s = co_await AwaitIo(
        [&](IoCallback cb) { return data_dev.SubmitRead(run.physical, part, std::move(cb)); });
    if (!s.ok()) co_return s;
  }
  co_return Status::Ok();
}

IoBuffer Image::Core::EncodeBitmapRegion(const format::Bitmap& bm) const {
  IoBuffer out(header.bitmap_size);
  bm.Encode(out);
  return out;
}

IoBuffer Image::Core::EncodeTableRegion() const {
  IoBuffer out(header.table_region_size());
  format::EncodeChunkTable(table, out);
  return out;
}

Task<Status> Image::Core::WriteRegions(const IoBuffer& bitmap_bytes, const IoBuffer& table_bytes) {
  if (!table_bytes.empty()) {
    Status s = co_await AwaitIo([&](IoCallback cb) {
      return image_dev.SubmitWrite(header.table_offset, table_bytes, WriteMode::kCached,
                                   std::move(cb));
    });
    if (!s.ok()) co_return s.WithContext("table write");
    // The table must be durable before any bit of the new bitmap is: a bit whose chunk the
    // table on disk does not map reads zeros where the base or the guest's data belongs.
    if (!bitmap_bytes.empty()) FVD_CO_RETURN_IF_ERROR(co_await FlushImage());
  }
  if (!bitmap_bytes.empty()) {
    Status s = co_await AwaitIo([&](IoCallback cb) {
      return image_dev.SubmitWrite(header.bitmap_offset, bitmap_bytes, WriteMode::kCached,
                                   std::move(cb));
    });
    if (!s.ok()) co_return s.WithContext("bitmap write");
  }
  co_return Status::Ok();
}

}  // namespace fvd
