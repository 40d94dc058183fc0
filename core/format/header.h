// The FVD header: the first 8 KiB of an image. Version 1 fields sit at the byte offsets of the
// v1 format; version 2 adds the journal epoch, feature bits and a CRC32C in the padding after
// them (a v1 image reads zeros there). FORMAT.md is the spec; this file must match it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "core/format/constants.h"
#include "core/util/status.h"

namespace fvd::format {

struct Header {
  uint32_t magic = kMagic;
  uint32_t version = kVersion2;
  bool all_data_in_fvd_img = true;
  uint64_t virtual_disk_size = 0;  // bytes
  uint64_t metadata_size = 0;      // bytes; data offset when data lives in this file
  std::string base_img;            // "" = no base image
  std::string base_img_fmt;        // "" = probe
  uint64_t base_img_size = 0;      // bytes covered by the bitmap
  uint64_t bitmap_offset = 0;
  uint64_t bitmap_size = 0;
  uint32_t block_size = 0;  // bytes per bitmap bit
  bool copy_on_read = false;
  uint64_t max_outstanding_copy_on_read_data = kDefaultMaxOutstandingCopyOnReadData;
  std::string data_file;  // "" = data in this file
  std::string data_file_fmt;
  int32_t prefetch_start_delay = -1;  // seconds; <= 0 disables prefetch
  uint64_t prefetch_profile_offset = 0;
  uint64_t prefetch_profile_entries = 0;
  int32_t num_prefetch_slots = kDefaultPrefetchSlots;
  int32_t bytes_per_prefetch = kDefaultBytesPerPrefetch;
  int32_t prefetch_read_throughput_measure_time = kDefaultPrefetchMeasureTimeMs;   // ms
  int32_t prefetch_write_throughput_measure_time = kDefaultPrefetchMeasureTimeMs;  // ms
  int32_t prefetch_perf_calc_alpha = kDefaultPrefetchAlphaPercent;                 // percent
  int32_t prefetch_min_read_throughput = kDefaultPrefetchMinThroughputKBps;        // KB/s
  int32_t prefetch_min_write_throughput = kDefaultPrefetchMinThroughputKBps;       // KB/s
  int32_t prefetch_max_read_throughput = kDefaultPrefetchMaxThroughputKBps;        // KB/s
  int32_t prefetch_max_write_throughput = kDefaultPrefetchMaxThroughputKBps;       // KB/s
  int32_t prefetch_throttle_time = kDefaultPrefetchThrottleTimeMs;                 // ms
  bool compact_image = false;
  uint64_t table_offset = 0;
  uint64_t chunk_size = 0;
  uint64_t storage_grow_unit = 0;
  std::string add_storage_cmd;
  uint64_t journal_offset = 0;
  uint64_t journal_size = 0;
  bool clean_shutdown = true;
  bool need_zero_init = false;
  bool generate_prefetch_profile = false;
  uint32_t unit_of_prefetch_profile_entry_len = kDefaultProfileEntryLenUnit;
  int32_t profile_directed_prefetch_start_delay = -1;
  bool write_updates_base_img = false;
  // Version 2 only (zero in v1 images).
  uint64_t journal_epoch = 0;  // the stable epoch: replay applies only records of this epoch
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  // Set at run time when whole-image prefetch has copied the whole base: all data is in the
  // image. It means what all_data_in_fvd_img means, but sits in the header's ninth sector
  // with every other field that changes while an image is open (clean_shutdown,
  // journal_epoch, header_checksum), so a header write at run time changes one 512-byte
  // sector and a crash cannot tear it. all_data_in_fvd_img, in the first sector, is written
  // only at creation and by offline updates.
  bool self_contained = false;

  bool has_base() const { return !base_img.empty(); }
  bool has_bitmap() const { return bitmap_size > 0; }
  bool has_journal() const { return journal_size > 0; }
  // True when reads never need the base image.
  bool all_data_in_image() const { return all_data_in_fvd_img || self_contained; }
  // Entries of the chunk table (0 unless compact).
  uint64_t table_entries() const;
  // Bytes of the table region (entries * 4 rounded up to 4 KiB).
  uint64_t table_region_size() const;
  // Bits of the bitmap: ceil(base_img_size / block_size).
  uint64_t bitmap_bits() const;
  // Offset of virtual sector 0 in the data file (non-compact) or of chunk 0 (compact).
  uint64_t data_offset() const { return data_file.empty() ? metadata_size : 0; }

  bool operator==(const Header&) const = default;
};

// Visits every on-disk field in offset order as f(name, offset, size, member), where member
// is a uint32_t, int32_t, uint64_t, bool (stored in 4 bytes) or std::string (NUL-terminated in
// `size` bytes). Encoding, decoding and the JSON view of `fvd-img info` all use this one list.
template <typename H, typename F>
void ForEachHeaderField(H& h, F&& f) {
  f("magic", 0, 4, h.magic);
  f("version", 4, 4, h.version);
  f("all_data_in_fvd_img", 8, 4, h.all_data_in_fvd_img);
  f("virtual_disk_size", 12, 8, h.virtual_disk_size);
  f("metadata_size", 20, 8, h.metadata_size);
  f("base_img", 28, kBaseImgLen, h.base_img);
  f("base_img_fmt", 1052, kFormatNameLen, h.base_img_fmt);
  f("base_img_size", 1068, 8, h.base_img_size);
  f("bitmap_offset", 1076, 8, h.bitmap_offset);
  f("bitmap_size", 1084, 8, h.bitmap_size);
  f("block_size", 1092, 4, h.block_size);
  f("copy_on_read", 1096, 4, h.copy_on_read);
  f("max_outstanding_copy_on_read_data", 1100, 8, h.max_outstanding_copy_on_read_data);
  f("data_file", 1108, kDataFileLen, h.data_file);
  f("data_file_fmt", 2132, kFormatNameLen, h.data_file_fmt);
  f("prefetch_start_delay", 2148, 4, h.prefetch_start_delay);
  f("prefetch_profile_offset", 2152, 8, h.prefetch_profile_offset);
  f("prefetch_profile_entries", 2160, 8, h.prefetch_profile_entries);
  f("num_prefetch_slots", 2168, 4, h.num_prefetch_slots);
  f("bytes_per_prefetch", 2172, 4, h.bytes_per_prefetch);
  f("prefetch_read_throughput_measure_time", 2176, 4, h.prefetch_read_throughput_measure_time);
  f("prefetch_write_throughput_measure_time", 2180, 4, h.prefetch_write_throughput_measure_time);
  f("prefetch_perf_calc_alpha", 2184, 4, h.prefetch_perf_calc_alpha);
  f("prefetch_min_read_throughput", 2188, 4, h.prefetch_min_read_throughput);
  f("prefetch_min_write_throughput", 2192, 4, h.prefetch_min_write_throughput);
  f("prefetch_max_read_throughput", 2196, 4, h.prefetch_max_read_throughput);
  f("prefetch_max_write_throughput", 2200, 4, h.prefetch_max_write_throughput);
  f("prefetch_throttle_time", 2204, 4, h.prefetch_throttle_time);
  f("compact_image", 2208, 4, h.compact_image);
  f("table_offset", 2212, 8, h.table_offset);
  f("chunk_size", 2220, 8, h.chunk_size);
  f("storage_grow_unit", 2228, 8, h.storage_grow_unit);
  f("add_storage_cmd", 2236, kAddStorageCmdLen, h.add_storage_cmd);
  f("journal_offset", 4284, 8, h.journal_offset);
  f("journal_size", 4292, 8, h.journal_size);
  f("clean_shutdown", 4300, 4, h.clean_shutdown);
  f("need_zero_init", 4304, 4, h.need_zero_init);
  f("generate_prefetch_profile", 4308, 4, h.generate_prefetch_profile);
  f("unit_of_PrefetchProfileEntry_len", 4312, 4, h.unit_of_prefetch_profile_entry_len);
  f("profile_directed_prefetch_start_delay", 4316, 4, h.profile_directed_prefetch_start_delay);
  f("write_updates_base_img", 4320, 4, h.write_updates_base_img);  // 16 bytes in v1, 4 used
  f("journal_epoch", 4336, 8, h.journal_epoch);
  f("incompatible_features", 4344, 8, h.incompatible_features);
  f("compatible_features", 4352, 8, h.compatible_features);
  f("self_contained", 4364, 4, h.self_contained);
}

// The header's only sector that changes while an image is open (see Header::self_contained).
inline constexpr size_t kHeaderRuntimeSector = 8;  // bytes [4096, 4608)

// Offset of the v2 header checksum: CRC32C of the whole 8 KiB region with these 4 bytes zero.
inline constexpr size_t kHeaderChecksumOffset = 4360;

// Encodes `h` into an 8 KiB header region (zero padding, checksum when version >= 2).
// Fails if a string does not fit its field (names the field and the length).
Result<std::array<std::byte, kHeaderRegionSize>> EncodeHeader(const Header& h);

// Decodes a header region. `bytes` may be shorter than 8 KiB only if it is the whole file:
// then the file is truncated and decoding fails. Checks magic, version, checksum (v2),
// NUL-termination of strings and unknown incompatible features; every error names the field,
// its offset and the value found. Does not check the layout: see ValidateHeader.
Result<Header> DecodeHeader(std::span<const std::byte> bytes);

// Checks the layout of a decoded header against the length of its file: sizes and alignments,
// bitmap and table large enough, regions inside the metadata area and not overlapping, the
// metadata area inside the file. Errors name the field(s) and values.
Status ValidateHeader(const Header& h, uint64_t file_size);

}  // namespace fvd::format
