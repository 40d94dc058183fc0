// Image: open (with recovery), flush, close, and the accessors.
#include "core/image/image.h"

#include <vector>

#include "core/format/chunk_table.h"
#include "core/format/layout.h"
#include "core/image/direct_metadata.h"
#include "core/image/extents.h"
#include "core/image/image_core.h"
#include "core/image/journal.h"
#include "core/image/prefetch_profile.h"
#include "core/image/prefetcher.h"
#include "core/image/profile_store.h"
#include "core/image/recovery.h"

namespace fvd {
namespace {

Task<Status> ReadRegion(Image::Core& c, uint64_t offset, IoBuffer& out) {
  co_return co_await AwaitIo(
      [&](IoCallback cb) { return c.image_dev.SubmitRead(offset, out, std::move(cb)); });
}

Task<Status> LoadHeader(Image::Core& c) {
  const uint64_t size = c.image_dev.size();
  IoBuffer buf(std::min<uint64_t>(size, format::kHeaderRegionSize));
  FVD_CO_RETURN_IF_ERROR(co_await ReadRegion(c, 0, buf));
  auto h = format::DecodeHeader(buf);
  if (!h.ok()) co_return h.status();
  FVD_CO_RETURN_IF_ERROR(format::ValidateHeader(*h, size));
  c.header = std::move(*h);
  co_return Status::Ok();
}

Status CheckDevices(const Image::Core& c, const ImageDevices& d) {
  const format::Header& h = c.header;
  if (h.has_base() && !h.all_data_in_image() && d.base == nullptr) {
    return Status::InvalidArgument("image needs its base image '" + h.base_img + "'");
  }
  if (!h.data_file.empty() && d.data == nullptr) {
    return Status::InvalidArgument("image keeps its data in '" + h.data_file +
                                   "', which was not given");
  }
  if (c.read_only()) return Status::Ok();
  const BlockDevice& data = d.data != nullptr ? *d.data : *d.image;
  if (!data.zero_initialized() && format::NeedsZeroInitializedStorage(h)) {
    return Status::InvalidArgument(
        "image reads storage it never wrote as zeros (need_zero_init, or a non-compact disk "
        "larger than its base), but its data lives on a block device that is not "
        "zero-initialized");
  }
  if (h.version == format::kVersion1) {
    return Status::Unsupported("version 1 images open read-only (this build writes version 2)");
  }
  if (!h.clean_shutdown && !h.has_journal() && (h.has_bitmap() || h.compact_image)) {
    return Status::Corruption(
        "image was not shut down cleanly and has no journal to recover from; its metadata may "
        "miss the last writes (open it read-only, or accept it with `fvd-img update "
        "clean_shutdown=true`)");
  }
  return Status::Ok();
}

Task<Status> LoadMetadata(Image::Core& c) {
  const format::Header& h = c.header;
  c.use_bitmap = h.has_base() && !h.all_data_in_image();
  if (c.use_bitmap) {
    IoBuffer bytes(h.bitmap_size);
    FVD_CO_RETURN_IF_ERROR(
        (co_await ReadRegion(c, h.bitmap_offset, bytes)).WithContext("bitmap read"));
    auto bm = format::Bitmap::Decode(bytes, h.bitmap_bits());
    if (!bm.ok()) co_return bm.status();
    c.stale = *bm;
    c.fresh = std::move(*bm);
  }
  if (h.compact_image) {
    IoBuffer bytes(h.table_region_size());  // whole sectors: O_DIRECT reads nothing less
    FVD_CO_RETURN_IF_ERROR(
        (co_await ReadRegion(c, h.table_offset, bytes)).WithContext("table read"));
    auto table = format::DecodeChunkTable(bytes, h.table_entries());
    if (!table.ok()) co_return table.status();
    c.table = std::move(*table);
  }
  co_return Status::Ok();
}

// Makes the replayed metadata durable and starts a new epoch, so records of the old one
// (including any that described leaked chunks) are never applied again.
Task<Status> StartSession(Image::Core& c, bool recovered) {
  if (recovered) {
    const auto bitmap = c.use_bitmap ? c.EncodeBitmapRegion(c.stale) : IoBuffer{};
    const auto table = c.compact() ? c.EncodeTableRegion() : IoBuffer{};
    FVD_CO_RETURN_IF_ERROR(co_await c.WriteRegions(bitmap, table));
    FVD_CO_RETURN_IF_ERROR(co_await c.FlushImage());
  }
  ++c.header.journal_epoch;
  c.header.clean_shutdown = false;
  FVD_CO_RETURN_IF_ERROR(co_await c.WriteHeader());
  co_return co_await c.FlushImage();
}

// The journal is corrupt beyond replay (`why`): drop what replay applied and reload the
// metadata as last written. Then go read-only, so nothing guessed is ever used to write, unless
// the caller asked to discard the journal (StartSession's new epoch then retires its records).
Task<Status> OpenWithoutJournal(Image::Core& c, const Status& why) {
  FVD_CO_RETURN_IF_ERROR(co_await LoadMetadata(c));
  c.stats.journal_unreplayable = true;
  c.journal_error = why.message();
  if (c.options.discard_unreplayable_journal && !c.read_only()) {
    c.stats.journal_discarded = true;
    co_return Status::Ok();
  }
  c.options.access = AccessMode::kReadOnly;
  c.open_warning = "the journal is corrupt beyond replay (" + why.message() +
                   "): opened read-only, with the bitmap and table as last written; writes "
                   "recorded only in the journal are not visible (`fvd-img check -r all` "
                   "discards the journal)";
  co_return Status::Ok();
}

// A recorded profile keeps at most this many extents (256 KiB of them).
constexpr uint64_t kMaxProfileEntries = 16384;

uint64_t DataCapacityChunks(const Image::Core& c) {
  if (!c.compact()) return 0;
  const uint64_t size = c.data_dev.size(), start = c.header.data_offset();
  return size <= start ? 0 : (size - start) / c.header.chunk_size;
}

// The size of the device holding the data (0 when a separate data file was not given).
uint64_t DataFileSize(const format::Header& h, const ImageDevices& d) {
  if (d.data != nullptr) return d.data->size();
  return h.data_file.empty() ? d.image->size() : 0;
}

}  // namespace

Image::Image(std::unique_ptr<Core> core) : core_(std::move(core)) {}
Image::~Image() = default;

Task<Result<std::unique_ptr<Image>>> Image::Open(ImageEnv env, ImageDevices devices,
                                                 ImageOptions options) {
  if (devices.image == nullptr) co_return Status::InvalidArgument("no image device");
  auto core = std::make_unique<Core>(env, devices, options);
  Core& c = *core;
  FVD_CO_RETURN_IF_ERROR(co_await LoadHeader(c));
  FVD_CO_RETURN_IF_ERROR(format::CheckMetadataMemory(c.header, options.max_metadata_memory,
                                                     DataFileSize(c.header, devices)));
  FVD_CO_RETURN_IF_ERROR(CheckDevices(c, devices));
  if (c.header.all_data_in_image()) c.base_dev = nullptr;
  FVD_CO_RETURN_IF_ERROR(co_await LoadMetadata(c));
  const bool recover = !c.header.clean_shutdown && c.header.has_journal();
  if (recover) {
    auto counts = co_await ReplayJournal(c);
    if (counts.ok()) {
      c.stats.recovered = true;
      c.stats.replayed_sectors = counts->applied;
      c.stats.skipped_sectors = counts->skipped;
    } else if (counts.status().code() == StatusCode::kCorruption) {
      FVD_CO_RETURN_IF_ERROR(co_await OpenWithoutJournal(c, counts.status()));
    } else {
      co_return counts.status();
    }
  }
  c.allocator = ChunkAllocator(c.table, DataCapacityChunks(c));
  c.allocator.set_fresh_chunks_hold_garbage(!c.data_dev.zero_initialized());
  c.stats.leaked_chunks = recover ? c.allocator.reusable() : 0;
  if (!c.read_only()) {
    FVD_CO_RETURN_IF_ERROR(co_await StartSession(c, recover));
    if (c.header.has_journal()) {
      c.journal = std::make_unique<Journal>(c);
    } else {
      c.direct = std::make_unique<DirectMetadata>(c);
    }
    if (c.use_bitmap && (options.record_prefetch_profile || c.header.generate_prefetch_profile)) {
      c.profile_recorder = std::make_unique<ProfileRecorder>(
          c.header.base_img_size, c.header.block_size, kMaxProfileEntries);
    }
    if (c.use_bitmap) co_await LoadStoredProfile(c);
    if (Prefetcher::Wanted(c)) {
      c.prefetcher = std::make_unique<Prefetcher>(c);
      c.prefetcher->Start();
    }
  }
  co_return std::unique_ptr<Image>(new Image(std::move(core)));
}

Task<Status> Image::Flush() {
  Core& c = *core_;
  if (c.closed) co_return Status::InvalidArgument("image is closed");
  InFlightGuard guard(c);
  ++c.stats.guest_flushes;
  // After a failed metadata write, earlier writes' metadata may be lost: no flush can promise
  // them any more (found by the property suite: a failed timer write-out emptied the queue, and
  // the next flush, with nothing left to write, reported success).
  if (c.metadata_error) co_return Status::ReadOnly(c.metadata_error_what);
  Status s;
  if (c.journal != nullptr || (c.direct != nullptr && c.direct->pending())) {
    s = co_await c.CommitMetadata();
  } else {
    s = co_await c.FlushData();
    if (s.ok() && &c.data_dev != &c.image_dev) s = co_await c.FlushImage();
  }
  if (s.ok() && c.metadata_error) s = Status::ReadOnly(c.metadata_error_what);
  co_return s;
}

Task<Status> Image::Close() {
  Core& c = *core_;
  if (c.closed) co_return Status::Ok();
  c.closed = true;
  if (c.prefetcher != nullptr) co_await c.prefetcher->Stop();
  while (c.in_flight > 0) co_await c.idle.Wait();
  if (c.read_only()) co_return Status::Ok();
  if (c.journal != nullptr) co_await c.journal->Quiesce();
  if (c.metadata_error) co_return Status::ReadOnly(c.metadata_error_what);
  // Data first: the bitmap written next points at it. Fresh bits are safe to keep now that
  // their copies are flushed.
  FVD_CO_RETURN_IF_ERROR(co_await c.FlushData());
  const auto bitmap = c.use_bitmap ? c.EncodeBitmapRegion(c.fresh) : IoBuffer{};
  const auto table = c.compact() ? c.EncodeTableRegion() : IoBuffer{};
  FVD_CO_RETURN_IF_ERROR(co_await c.WriteRegions(bitmap, table));
  FVD_CO_RETURN_IF_ERROR(co_await StoreRecordedProfile(c));
  FVD_CO_RETURN_IF_ERROR(co_await c.FlushImage());
  c.header.clean_shutdown = true;
  FVD_CO_RETURN_IF_ERROR(co_await c.WriteHeader());
  co_return co_await c.FlushImage();
}

std::vector<MapExtent> Image::Map(uint64_t offset, uint64_t length) const {
  const Core& c = *core_;
  std::vector<MapExtent> out;
  auto add = [&](MapExtent e) {
    if (!out.empty()) {
      MapExtent& last = out.back();
      const bool joins =
          last.where == e.where && last.offset + last.length == e.offset &&
          (e.where != MapExtent::Where::kImage || last.physical + last.length == e.physical);
      if (joins) {
        last.length += e.length;
        return;
      }
    }
    out.push_back(e);
  };
  for (const SourceRun& run :
       SplitBySource(c.header, c.use_bitmap ? &c.fresh : nullptr, offset, length)) {
    if (run.in_base) {
      add({run.extent.offset, run.extent.length, MapExtent::Where::kBase, 0});
      continue;
    }
    for (const PhysicalRun& p :
         MapToData(c.header, c.table, run.extent.offset, run.extent.length)) {
      const bool none =
          p.physical == kUnallocated ||
          (c.compact() && format::IsDirtyChunk(c.table[p.extent.offset / c.header.chunk_size]));
      add({p.extent.offset, p.extent.length,
           none ? MapExtent::Where::kNowhere : MapExtent::Where::kImage, none ? 0 : p.physical});
    }
  }
  return out;
}

Task<void> Image::WaitIdle() {
  Core& c = *core_;
  if (c.prefetcher != nullptr) co_await c.prefetcher->Stop();
  while (c.in_flight > 0) co_await c.idle.Wait();
  if (c.journal != nullptr) co_await c.journal->Quiesce();
  while (c.in_flight > 0) co_await c.idle.Wait();
}

std::vector<ByteRange> Image::recorded_prefetch_profile() const {
  std::vector<ByteRange> out;
  if (core_->profile_recorder == nullptr) return out;
  for (const Extent& e : core_->profile_recorder->entries()) out.push_back({e.offset, e.length});
  return out;
}

const format::Header& Image::header() const {
  return core_->header;
}
const ImageStats& Image::stats() const {
  return core_->stats;
}
bool Image::metadata_error() const {
  return core_->metadata_error;
}

const std::string& Image::open_warning() const {
  return core_->open_warning;
}

const std::string& Image::journal_error() const {
  return core_->journal_error;
}

}  // namespace fvd
