// The prefetch profile region: the order in which a boot first read base blocks, stored in the
// image so that images created later from the same base prefetch those blocks first (FVD v1
// reserved the header fields and never defined the region; FORMAT.md, "Prefetch profile").
//
// The region lies at prefetch_profile_offset and holds up to prefetch_profile_entries entries
// (its capacity, fixed at creation). It is self-describing, so that writing it never touches
// the header:
//   0: u32 magic "FVDP"  4: u32 reserved (0)  8: u64 count  16: u32 crc32c  20..512: zero
//   512 + 12 i: entry i: u64 offset (bytes), u32 length (units of unit_of_PrefetchProfileEntry_len)
// The CRC32C covers bytes [0, 16) and the `count` entries. A region without the magic holds no
// profile yet; a wrong checksum or impossible entry means a torn or damaged write: readers
// ignore the profile (it only orders prefetching) and `check` reports it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/util/io_buffer.h"
#include "core/util/status.h"

namespace fvd::format {

struct ProfileEntry {
  uint64_t offset = 0;  // bytes into the base
  uint64_t length = 0;  // bytes
  bool operator==(const ProfileEntry&) const = default;
};

inline constexpr uint32_t kProfileMagic = 0x50445646;  // "FVDP" little-endian
inline constexpr uint64_t kProfileEntrySize = 12;
inline constexpr uint64_t kProfileHeaderSize = 512;
// The most entries a region may hold (a 48 MiB region).
inline constexpr uint64_t kMaxProfileCapacity = 1ull << 22;

// Bytes of a region for `capacity` entries, a multiple of 4096.
uint64_t ProfileRegionSize(uint64_t capacity);

// The region holding the first `capacity` of `entries`, lengths rounded up to whole `unit`s.
// REQUIRES: unit > 0.
IoBuffer EncodeProfileRegion(std::span<const ProfileEntry> entries, uint64_t capacity,
                             uint32_t unit);

// The entries a region holds: empty when it holds none yet (no magic). Errors (kCorruption)
// name what is wrong and where: a count above `capacity`, a checksum mismatch, an entry that
// starts at or past `base_size` or is empty. Lengths are clipped to the base.
Result<std::vector<ProfileEntry>> DecodeProfileRegion(std::span<const std::byte> region,
                                                      uint64_t capacity, uint32_t unit,
                                                      uint64_t base_size);

}  // namespace fvd::format
