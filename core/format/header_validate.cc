// ValidateHeader: the layout checks of a decoded header (declared in header.h).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/format/header.h"
#include "core/format/profile_region.h"
#include "core/util/units.h"

namespace fvd::format {
namespace {

std::string Field(std::string_view name, uint64_t value) {
  return "header field '" + std::string(name) + "' = " + std::to_string(value);
}

Status CheckMultiple(std::string_view name, uint64_t value, uint64_t unit,
                     std::string_view unit_name) {
  if (value % unit != 0) {
    return Status::Corruption(Field(name, value) + " is not a multiple of " +
                              std::string(unit_name));
  }
  return Status::Ok();
}

struct Region {
  std::string_view name;
  uint64_t offset;
  uint64_t size;
};

Status CheckSizes(const Header& h) {
  FVD_RETURN_IF_ERROR(CheckMultiple("virtual_disk_size", h.virtual_disk_size, kSectorSize, "512"));
  FVD_RETURN_IF_ERROR(CheckMultiple("metadata_size", h.metadata_size, kSectorSize, "512"));
  if (h.metadata_size < kHeaderRegionSize) {
    return Status::Corruption(Field("metadata_size", h.metadata_size) +
                              " is smaller than the 8192-byte header region");
  }
  FVD_RETURN_IF_ERROR(CheckMultiple("base_img_size", h.base_img_size, kSectorSize, "512"));
  if (h.base_img_size > h.virtual_disk_size) {
    return Status::Corruption(Field("base_img_size", h.base_img_size) +
                              " exceeds virtual_disk_size " + std::to_string(h.virtual_disk_size));
  }
  return Status::Ok();
}

Status CheckBitmap(const Header& h) {
  if (!h.has_base()) return Status::Ok();
  if (h.block_size == 0 || h.block_size % kSectorSize != 0) {
    return Status::Corruption(Field("block_size", h.block_size) +
                              " must be a non-zero multiple of 512 when there is a base image");
  }
  const uint64_t needed = DivRoundUp(h.bitmap_bits(), 8);
  if (h.bitmap_size < needed) {
    return Status::Corruption(Field("bitmap_size", h.bitmap_size) +
                              " is too small: " + std::to_string(h.bitmap_bits()) +
                              " blocks need " + std::to_string(needed) + " bytes");
  }
  return Status::Ok();
}

Status CheckTable(const Header& h) {
  if (!h.compact_image) return Status::Ok();
  if (h.chunk_size == 0 || h.chunk_size % kSectorSize != 0) {
    return Status::Corruption(Field("chunk_size", h.chunk_size) +
                              " must be a non-zero multiple of 512 in a compact image");
  }
  if (h.has_base() && h.chunk_size % h.block_size != 0) {
    return Status::Corruption(Field("chunk_size", h.chunk_size) +
                              " is not a multiple of block_size " + std::to_string(h.block_size));
  }
  if (h.table_entries() > uint64_t{kMaxChunkId} + 1) {
    return Status::Corruption(Field("chunk_size", h.chunk_size) + " gives " +
                              std::to_string(h.table_entries()) +
                              " chunks, more than a table holds");
  }
  if (h.storage_grow_unit < h.chunk_size) {
    return Status::Corruption(Field("storage_grow_unit", h.storage_grow_unit) +
                              " is smaller than chunk_size " + std::to_string(h.chunk_size));
  }
  return Status::Ok();
}

Status CheckJournal(const Header& h) {
  if (!h.has_journal()) return Status::Ok();
  return CheckMultiple("journal_size", h.journal_size, kSectorSize, "512");
}

Status CheckPrefetch(const Header& h) {
  if (h.prefetch_perf_calc_alpha < 0 || h.prefetch_perf_calc_alpha > 100) {
    return Status::Corruption(Field("prefetch_perf_calc_alpha", h.prefetch_perf_calc_alpha) +
                              " is a percentage (0 to 100)");
  }
  if (h.prefetch_start_delay <= 0) return Status::Ok();
  if (h.num_prefetch_slots < 1) {
    return Status::Corruption(Field("num_prefetch_slots", h.num_prefetch_slots) +
                              " must be at least 1 when prefetch is enabled");
  }
  if (h.bytes_per_prefetch <= 0 || h.bytes_per_prefetch % kSectorSize != 0) {
    return Status::Corruption(Field("bytes_per_prefetch", h.bytes_per_prefetch) +
                              " must be a positive multiple of 512 when prefetch is enabled");
  }
  return Status::Ok();
}

// Each present region lies inside [header end, metadata_size), sector aligned, and no two
// regions overlap.
Status CheckRegions(const Header& h) {
  std::vector<Region> regions;
  if (h.has_bitmap()) regions.push_back({"bitmap", h.bitmap_offset, h.bitmap_size});
  if (h.compact_image) regions.push_back({"table", h.table_offset, h.table_entries() * 4});
  if (h.has_journal()) regions.push_back({"journal", h.journal_offset, h.journal_size});
  if (h.prefetch_profile_entries > 0) {
    if (h.prefetch_profile_entries > kMaxProfileCapacity) {
      return Status::Corruption(Field("prefetch_profile_entries", h.prefetch_profile_entries) +
                                " exceeds " + std::to_string(kMaxProfileCapacity));
    }
    if (h.unit_of_prefetch_profile_entry_len == 0 ||
        h.unit_of_prefetch_profile_entry_len % kSectorSize != 0) {
      return Status::Corruption(
          Field("unit_of_PrefetchProfileEntry_len", h.unit_of_prefetch_profile_entry_len) +
          " must be a positive multiple of 512 when the image has a prefetch profile");
    }
    regions.push_back({"prefetch_profile", h.prefetch_profile_offset,
                       ProfileRegionSize(h.prefetch_profile_entries)});
  }
  for (const Region& r : regions) {
    const std::string off_name = std::string(r.name) + "_offset";
    FVD_RETURN_IF_ERROR(CheckMultiple(off_name, r.offset, kSectorSize, "512"));
    if (r.offset < kHeaderRegionSize || r.offset > h.metadata_size ||
        r.size > h.metadata_size - r.offset) {
      return Status::Corruption("the " + std::string(r.name) + " region [" +
                                std::to_string(r.offset) + ", " +
                                std::to_string(r.offset + r.size) +
                                ") lies outside the metadata area [8192, metadata_size = " +
                                std::to_string(h.metadata_size) + ")");
    }
  }
  std::sort(regions.begin(), regions.end(),
            [](const Region& a, const Region& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < regions.size(); ++i) {
    const Region& a = regions[i - 1];
    const Region& b = regions[i];
    if (a.offset + a.size > b.offset) {
      return Status::Corruption(
          "the " + std::string(a.name) + " region [" + std::to_string(a.offset) + ", " +
          std::to_string(a.offset + a.size) + ") overlaps the " + std::string(b.name) +
          " region starting at " + std::to_string(b.offset));
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateHeader(const Header& h, uint64_t file_size) {
  FVD_RETURN_IF_ERROR(CheckSizes(h));
  FVD_RETURN_IF_ERROR(CheckBitmap(h));
  FVD_RETURN_IF_ERROR(CheckTable(h));
  FVD_RETURN_IF_ERROR(CheckJournal(h));
  FVD_RETURN_IF_ERROR(CheckPrefetch(h));
  FVD_RETURN_IF_ERROR(CheckRegions(h));
  if (file_size < h.metadata_size) {
    return Status::Corruption("file is truncated: " + Field("metadata_size", h.metadata_size) +
                              " but the file is " + std::to_string(file_size) + " bytes long");
  }
  return Status::Ok();
}

}  // namespace fvd::format
