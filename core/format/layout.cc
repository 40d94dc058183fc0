#include "core/format/layout.h"

#include <algorithm>
#include <string>

#include "core/format/profile_region.h"
#include "core/util/units.h"

namespace fvd::format {
namespace {

// v2 journal sector capacity: table entries in one sector that also carries a bitmap record.
constexpr uint64_t kTableEntriesPerSectorWithBitmap =
    (kJournalV2Payload - kBitmapRecordSize - kTableRecordHeaderSize) / 4;

std::string Opt(const std::string& name, uint64_t v) {
  return "option " + name + "=" + std::to_string(v);
}

Status CheckOptions(const CreateOptions& o, uint64_t virtual_size) {
  if (virtual_size % kSectorSize != 0) {
    return Status::InvalidArgument("image size " + std::to_string(virtual_size) +
                                   " is not a multiple of 512");
  }
  if (o.block_size != 0 && o.block_size % kSectorSize != 0) {
    return Status::InvalidArgument(Opt("block_size", o.block_size) + " is not a multiple of 512");
  }
  if (o.compact_image) {
    if (o.chunk_size == 0 || o.chunk_size % kSectorSize != 0) {
      return Status::InvalidArgument(Opt("chunk_size", o.chunk_size) +
                                     " is not a positive multiple of 512");
    }
    if (o.storage_grow_unit < o.chunk_size) {
      return Status::InvalidArgument(Opt("storage_grow_unit", o.storage_grow_unit) +
                                     " is smaller than chunk_size " + std::to_string(o.chunk_size));
    }
    if (o.detect_sparse_hole) {
      return Status::InvalidArgument("option detect_sparse_hole cannot be used with compact_image");
    }
  }
  if (o.detect_sparse_hole && o.base_img.empty()) {
    return Status::InvalidArgument("option detect_sparse_hole needs a base image");
  }
  const bool profile = o.prefetch_profile_capacity > 0 || o.generate_prefetch_profile ||
                       o.profile_directed_prefetch_start_delay >= 0;
  if (profile && o.base_img.empty()) {
    return Status::InvalidArgument(
        "the prefetch profile options (prefetch_profile_capacity, generate_prefetch_profile, "
        "profile_directed_prefetch_start_delay) need a base image");
  }
  if (o.prefetch_profile_capacity > kMaxProfileCapacity) {
    return Status::InvalidArgument(Opt("prefetch_profile_capacity", o.prefetch_profile_capacity) +
                                   " exceeds " + std::to_string(kMaxProfileCapacity));
  }
  if (o.journal_size && *o.journal_size % kSectorSize != 0) {
    return Status::InvalidArgument(Opt("journal_size", *o.journal_size) +
                                   " is not a multiple of 512");
  }
  return Status::Ok();
}

}  // namespace

uint32_t AutoBlockSize(uint64_t base_size) {
  uint64_t bs = kSectorSize;
  while (DivRoundUp(DivRoundUp(base_size, bs), 8) > kModerateBitmapSize) bs *= 2;
  return static_cast<uint32_t>(bs);
}

uint64_t MinJournalSize(uint64_t table_entries) {
  return RoundUp(DivRoundUp(table_entries, kTableEntriesPerSectorWithBitmap) * kSectorSize,
                 kRegionAlignment);
}

Result<Header> PlanImage(const CreateOptions& o) {
  const bool has_base = !o.base_img.empty();
  uint64_t virtual_size = o.virtual_size;
  if (virtual_size == 0 && has_base) virtual_size = RoundUp(o.base_img_length, kSectorSize);
  FVD_RETURN_IF_ERROR(CheckOptions(o, virtual_size));

  Header h;
  h.version = kVersion2;
  h.virtual_disk_size = virtual_size;
  h.base_img = o.base_img;
  h.base_img_fmt = o.base_img_fmt;
  h.all_data_in_fvd_img = !has_base;
  h.data_file = o.data_file;
  h.data_file_fmt = o.data_file_fmt;
  h.copy_on_read = o.copy_on_read;
  h.prefetch_start_delay = o.prefetch_start_delay;
  uint64_t next = kHeaderRegionSize;

  if (has_base) {
    h.base_img_size = RoundUp(std::min(virtual_size, o.base_img_length), kSectorSize);
    h.block_size = o.block_size != 0 ? o.block_size : AutoBlockSize(h.base_img_size);
    h.bitmap_offset = next;
    h.bitmap_size = RoundUp(DivRoundUp(h.bitmap_bits(), 8), kRegionAlignment);
    next += h.bitmap_size;
    h.bytes_per_prefetch = static_cast<int32_t>(RoundUp(kDefaultBytesPerPrefetch, h.block_size));
  }
  if (o.compact_image) {
    if (has_base && o.chunk_size % h.block_size != 0) {
      return Status::InvalidArgument(Opt("chunk_size", o.chunk_size) +
                                     " is not a multiple of block_size " +
                                     std::to_string(h.block_size));
    }
    h.compact_image = true;
    h.chunk_size = o.chunk_size;
    h.storage_grow_unit = o.storage_grow_unit;
    h.add_storage_cmd = o.add_storage_cmd;
    h.table_offset = next;
    next += h.table_region_size();
  }
  if (has_base || o.compact_image) {
    uint64_t journal = o.journal_size.value_or(kDefaultJournalSize);
    if (journal > 0) {
      journal = std::max(RoundUp(journal, kRegionAlignment), MinJournalSize(h.table_entries()));
      h.journal_offset = next;
      h.journal_size = journal;
      next += journal;
    }
  }
  if (has_base && (o.prefetch_profile_capacity > 0 || o.generate_prefetch_profile)) {
    h.prefetch_profile_entries =
        o.prefetch_profile_capacity > 0 ? o.prefetch_profile_capacity : kDefaultProfileCapacity;
    h.prefetch_profile_offset = next;
    next += ProfileRegionSize(h.prefetch_profile_entries);
  }
  h.generate_prefetch_profile = o.generate_prefetch_profile;
  h.profile_directed_prefetch_start_delay = o.profile_directed_prefetch_start_delay;
  h.metadata_size = next;
  // A non-compact image reads never-written sectors from the data file itself, and
  // detect_sparse_hole trusts that holes read as zeros: both need zero-initialized storage.
  h.need_zero_init = (!o.compact_image && !has_base) || o.detect_sparse_hole;
  h.clean_shutdown = true;
  // Encode once to check that every string fits its field.
  FVD_RETURN_IF_ERROR(EncodeHeader(h).status());
  return h;
}

uint64_t InitialFileSize(const Header& h) {
  if (h.compact_image || !h.data_file.empty()) return h.metadata_size;
  return h.metadata_size + h.virtual_disk_size;
}

bool NeedsZeroInitializedStorage(const Header& h) {
  return h.need_zero_init || (!h.compact_image && h.virtual_disk_size > h.base_img_size);
}

}  // namespace fvd::format

namespace fvd::format {

namespace {

// a + b * k, saturating: a header may claim sizes near 2^64.
uint64_t SatAdd(uint64_t a, uint64_t b, uint64_t k = 1) {
  const uint64_t max = UINT64_MAX;
  if (k != 0 && b > max / k) return max;
  return a > max - b * k ? max : a + b * k;
}

}  // namespace

MetadataMemory MetadataMemoryOf(const Header& h, uint64_t data_file_size) {
  MetadataMemory m;
  const bool bitmap = h.has_base() && !h.all_data_in_image();
  if (bitmap && h.block_size != 0) {
    m.bitmap = SatAdd(h.bitmap_size, DivRoundUp(h.bitmap_bits(), 8), 2);
    const uint64_t slot =
        RoundUp(uint64_t(std::max<int32_t>(1, h.bytes_per_prefetch)), h.block_size);
    m.prefetch = SatAdd(0, slot, uint64_t(std::max<int32_t>(1, h.num_prefetch_slots)));
  }
  if (h.compact_image && h.chunk_size != 0)
    m.table = SatAdd(h.table_region_size(), h.table_entries(), 4);
  if (h.has_journal()) m.journal = h.journal_size;
  if (h.prefetch_profile_entries > 0)
    m.profile = SatAdd(0, ProfileRegionSize(h.prefetch_profile_entries), 2);
  if (h.compact_image && h.chunk_size != 0 && data_file_size > h.data_offset()) {
    const uint64_t chunks = (data_file_size - h.data_offset()) / h.chunk_size;
    m.allocator = SatAdd(DivRoundUp(chunks, 8), chunks, 4);
  }
  return m;
}

Status CheckMetadataMemory(const Header& h, uint64_t limit, uint64_t data_file_size) {
  const MetadataMemory need = MetadataMemoryOf(h, data_file_size);
  if (need.total() <= limit) return Status::Ok();
  return Status::TooLarge("opening the image needs " + FormatByteSize(need.total()) +
                          " of memory for its metadata (" + need.Describe() +
                          "), more than the limit of " + FormatByteSize(limit) +
                          " (raise it to open the image)");
}

uint64_t MetadataMemory::total() const {
  return SatAdd(SatAdd(SatAdd(SatAdd(SatAdd(bitmap, table), journal), profile), prefetch),
                allocator);
}

std::string MetadataMemory::Describe() const {
  return "bitmap " + FormatByteSize(bitmap) + ", table " + FormatByteSize(table) + ", journal " +
         FormatByteSize(journal) + ", profile " + FormatByteSize(profile) + ", prefetch " +
         FormatByteSize(prefetch) + ", allocator " + FormatByteSize(allocator);
}

}  // namespace fvd::format
