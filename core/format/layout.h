// Planning a new image: from create options to a header with the regions laid out in the v1
// order (header, bitmap, table, journal, data) with v1's defaults and automatic block size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/format/header.h"
#include "core/util/status.h"

namespace fvd::format {

struct CreateOptions {
  uint64_t virtual_size = 0;     // bytes; 0 = the base image's size
  std::string base_img;          // "" = no base image
  std::string base_img_fmt;      // "" = probe
  uint64_t base_img_length = 0;  // actual length of the base image in bytes
  bool compact_image = false;
  uint32_t block_size = 0;  // 0 = automatic
  uint64_t chunk_size = kDefaultChunkSize;
  uint64_t storage_grow_unit = kDefaultStorageGrowUnit;
  std::string add_storage_cmd;
  std::string data_file;  // "" = data in the image file
  std::string data_file_fmt;
  bool copy_on_read = false;
  int32_t prefetch_start_delay = -1;     // seconds; <= 0 disables whole-image prefetch
  std::optional<uint64_t> journal_size;  // unset = default (16 MiB); 0 = no journal
  bool detect_sparse_hole = false;       // needs zero-init storage; not with compact_image
  // Prefetch profile (profile_region.h): reserve a region for this many entries (0: none, or
  // kDefaultProfileCapacity when generate_prefetch_profile); record into it; follow a stored
  // profile this many seconds after open (-1: never). All need a base image.
  uint64_t prefetch_profile_capacity = 0;
  bool generate_prefetch_profile = false;
  int32_t profile_directed_prefetch_start_delay = -1;
};

// Entries of a profile region reserved for generate_prefetch_profile without a capacity given.
inline constexpr uint64_t kDefaultProfileCapacity = 16384;

// The smallest power-of-two multiple of 512 that keeps the bitmap of `base_size` bytes at or
// under 4 MiB.
uint32_t AutoBlockSize(uint64_t base_size);

// The memory opening an image with header `h` needs for its metadata, at the peak, computed
// from the header alone: the bitmap region as read, then held twice (what is durable and what
// is true now); the table region as read and decoded; the journal region, read whole when
// recovery replays it; the prefetch profile region; the prefetcher's slots (num_prefetch_slots
// buffers of bytes_per_prefetch, whole blocks, when there is a base to prefetch); and, for a
// compact image whose data file
// holds `data_file_size` bytes, the chunk allocator's map of that file (a bit per chunk, and a
// 4-byte entry per chunk it may reuse; the header's chunk_size can be one sector). A header can
// claim any sizes: an opener checks this against its limit before allocating anything
// (ImageOptions::max_metadata_memory).
struct MetadataMemory {
  uint64_t bitmap = 0, table = 0, journal = 0, profile = 0, prefetch = 0, allocator = 0;
  uint64_t total() const;  // saturating at 2^64 - 1
  // "bitmap 64 GiB, table 0 B, journal 16 MiB, profile 0 B, prefetch 2 MiB, allocator 0 B"
  std::string Describe() const;
};
MetadataMemory MetadataMemoryOf(const Header& h, uint64_t data_file_size = 0);
// kTooLarge, naming what opening would need, if that is over `limit`.
Status CheckMetadataMemory(const Header& h, uint64_t limit, uint64_t data_file_size = 0);

// Smallest journal that fits one record for every table entry (each sector carrying a bitmap
// record too), in bytes, rounded up to 4 KiB.
uint64_t MinJournalSize(uint64_t table_entries);

// Lays out a version 2 image. Errors name the option and value (size not a multiple of 512,
// block size not a multiple of 512, chunk size not a multiple of block size, a string too
// long, detect_sparse_hole with compact_image, ...).
Result<Header> PlanImage(const CreateOptions& options);

// True if the image reads storage it never wrote and needs it to be zeros: need_zero_init, or a
// non-compact image whose disk extends past its base (those sectors read the data area). Such
// an image cannot live on storage that is not zero-initialized (a block device).
bool NeedsZeroInitializedStorage(const Header& h);

// Length of the image file right after creation: the metadata area, plus the (sparse) data
// area of a non-compact image whose data lives in this file.
uint64_t InitialFileSize(const Header& h);

}  // namespace fvd::format
