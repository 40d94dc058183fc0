#include "core/format/profile_region.h"

#include <algorithm>
#include <string>

#include "core/format/constants.h"
#include "core/util/crc32c.h"
#include "core/util/endian.h"

namespace fvd::format {
namespace {

constexpr size_t kCountAt = 8, kCrcAt = 16, kCoveredHeader = 16;

uint32_t RegionCrc(std::span<const std::byte> region, uint64_t count) {
  const uint32_t crc = Crc32c(region.subspan(0, kCoveredHeader));
  return Crc32cExtend(crc, region.subspan(kProfileHeaderSize, count * kProfileEntrySize));
}

}  // namespace

uint64_t ProfileRegionSize(uint64_t capacity) {
  const uint64_t bytes = kProfileHeaderSize + capacity * kProfileEntrySize;
  return (bytes + kRegionAlignment - 1) / kRegionAlignment * kRegionAlignment;
}

IoBuffer EncodeProfileRegion(std::span<const ProfileEntry> entries, uint64_t capacity,
                             uint32_t unit) {
  IoBuffer out(ProfileRegionSize(capacity), std::byte{0});
  const uint64_t count = std::min<uint64_t>(entries.size(), capacity);
  StoreLE32(out, 0, kProfileMagic);
  StoreLE64(out, kCountAt, count);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = kProfileHeaderSize + i * kProfileEntrySize;
    StoreLE64(out, at, entries[i].offset);
    StoreLE32(out, at + 8, static_cast<uint32_t>((entries[i].length + unit - 1) / unit));
  }
  StoreLE32(out, kCrcAt, RegionCrc(out, count));
  return out;
}

Result<std::vector<ProfileEntry>> DecodeProfileRegion(std::span<const std::byte> region,
                                                      uint64_t capacity, uint32_t unit,
                                                      uint64_t base_size) {
  std::vector<ProfileEntry> out;
  if (region.size() < kProfileHeaderSize || LoadLE32(region, 0) != kProfileMagic) return out;
  const uint64_t count = LoadLE64(region, kCountAt);
  const uint64_t fits = (region.size() - kProfileHeaderSize) / kProfileEntrySize;
  if (count > capacity || count > fits) {
    return Status::Corruption("prefetch profile: count " + std::to_string(count) +
                              " (byte 8 of the region) exceeds its capacity of " +
                              std::to_string(std::min(capacity, fits)) + " entries");
  }
  const uint32_t stored = LoadLE32(region, kCrcAt), computed = RegionCrc(region, count);
  if (stored != computed) {
    return Status::Corruption(
        "prefetch profile: checksum mismatch (byte 16 of the region): "
        "stored " +
        std::to_string(stored) + ", computed " + std::to_string(computed));
  }
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = kProfileHeaderSize + i * kProfileEntrySize;
    const uint64_t offset = LoadLE64(region, at);
    const uint64_t units = LoadLE32(region, at + 8);
    if (offset >= base_size || units == 0) {
      return Status::Corruption("prefetch profile: entry " + std::to_string(i) + " (byte " +
                                std::to_string(at) + " of the region) " +
                                (units == 0
                                     ? "is empty"
                                     : "starts past the base (offset " + std::to_string(offset) +
                                           ", base " + std::to_string(base_size) + " bytes)"));
    }
    out.push_back({offset, std::min(units * unit, base_size - offset)});
  }
  return out;
}

}  // namespace fvd::format
