#include "core/format/header.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/util/crc32c.h"
#include "core/util/endian.h"
#include "core/util/units.h"

namespace fvd::format {
namespace {

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

// "header field 'name' at offset N"
std::string FieldAt(std::string_view name, size_t offset) {
  return "header field '" + std::string(name) + "' at offset " + std::to_string(offset);
}

uint32_t HeaderChecksum(std::span<const std::byte> region) {
  std::array<std::byte, 4> zeros{};
  uint32_t crc = Crc32c(region.subspan(0, kHeaderChecksumOffset));
  crc = Crc32cExtend(crc, zeros);
  return Crc32cExtend(crc, region.subspan(kHeaderChecksumOffset + 4));
}

struct Encoder {
  std::span<std::byte> out;
  Status status;

  void operator()(std::string_view name, size_t off, size_t size, const std::string& s) {
    if (s.size() >= size || s.find('\0') != std::string::npos) {
      if (status.ok()) {
        status = Status::InvalidArgument(FieldAt(name, off) + " holds at most " +
                                         std::to_string(size - 1) + " bytes without NUL, got " +
                                         std::to_string(s.size()));
      }
      return;
    }
    std::copy_n(reinterpret_cast<const std::byte*>(s.data()), s.size(), out.begin() + off);
  }
  void operator()(std::string_view, size_t off, size_t, bool v) { StoreLE32(out, off, v ? 1 : 0); }
  void operator()(std::string_view, size_t off, size_t, int32_t v) {
    StoreLE32(out, off, static_cast<uint32_t>(v));
  }
  void operator()(std::string_view, size_t off, size_t, uint32_t v) { StoreLE32(out, off, v); }
  void operator()(std::string_view, size_t off, size_t, uint64_t v) { StoreLE64(out, off, v); }
};

struct Decoder {
  std::span<const std::byte> in;
  Status status;

  void operator()(std::string_view name, size_t off, size_t size, std::string& s) {
    const char* p = reinterpret_cast<const char*>(in.data() + off);
    const size_t len = std::find(p, p + size, '\0') - p;
    if (len == size && status.ok()) {
      status = Status::Corruption(FieldAt(name, off) + " is not NUL-terminated within " +
                                  std::to_string(size) + " bytes");
    }
    s.assign(p, std::min(len, size));
  }
  void operator()(std::string_view name, size_t off, size_t, bool& v) {
    const uint32_t raw = LoadLE32(in, off);
    if (raw > 1 && status.ok()) {
      status = Status::Corruption(FieldAt(name, off) + " is a boolean: expected 0 or 1, found " +
                                  std::to_string(raw));
    }
    v = raw != 0;
  }
  void operator()(std::string_view, size_t off, size_t, int32_t& v) {
    v = static_cast<int32_t>(LoadLE32(in, off));
  }
  void operator()(std::string_view, size_t off, size_t, uint32_t& v) { v = LoadLE32(in, off); }
  void operator()(std::string_view, size_t off, size_t, uint64_t& v) { v = LoadLE64(in, off); }
};

}  // namespace

uint64_t Header::table_entries() const {
  return compact_image && chunk_size > 0 ? DivRoundUp(virtual_disk_size, chunk_size) : 0;
}

uint64_t Header::table_region_size() const {
  return RoundUp(table_entries() * 4, kRegionAlignment);
}

uint64_t Header::bitmap_bits() const {
  return block_size > 0 ? DivRoundUp(base_img_size, block_size) : 0;
}

Result<std::array<std::byte, kHeaderRegionSize>> EncodeHeader(const Header& h) {
  std::array<std::byte, kHeaderRegionSize> region{};
  Encoder enc{region, Status::Ok()};
  ForEachHeaderField(h, enc);
  FVD_RETURN_IF_ERROR(enc.status);
  if (h.version >= kVersion2) StoreLE32(region, kHeaderChecksumOffset, HeaderChecksum(region));
  return region;
}

Result<Header> DecodeHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < 8) {
    return Status::Corruption("file is " + std::to_string(bytes.size()) +
                              " bytes long, too short for an FVD header (magic and version)");
  }
  const uint32_t magic = LoadLE32(bytes, 0);
  if (magic != kMagic) {
    return Status::Corruption(FieldAt("magic", 0) + ": expected " + Hex(kMagic) + ", found " +
                              Hex(magic) + " (not an FVD image)");
  }
  const uint32_t version = LoadLE32(bytes, 4);
  if (version != kVersion1 && version != kVersion2) {
    return Status::Corruption(FieldAt("version", 4) + ": expected 1 or 2, found " +
                              std::to_string(version));
  }
  const size_t needed = version == kVersion1 ? kHeaderFieldsSize : kHeaderRegionSize;
  if (bytes.size() < needed) {
    return Status::Corruption("file is truncated: the version " + std::to_string(version) +
                              " header needs " + std::to_string(needed) + " bytes, found " +
                              std::to_string(bytes.size()));
  }
  // A v1 header may be followed by fewer than 8 KiB; decode from a zero-padded copy.
  std::array<std::byte, kHeaderRegionSize> region{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), region.size()), region.begin());
  if (version >= kVersion2) {
    const uint32_t stored = LoadLE32(region, kHeaderChecksumOffset);
    const uint32_t computed = HeaderChecksum(region);
    if (stored != computed) {
      return Status::Corruption(FieldAt("header_checksum", kHeaderChecksumOffset) +
                                ": checksum mismatch: stored " + Hex(stored) + ", computed " +
                                Hex(computed));
    }
  }
  if (version == kVersion1) {
    // v1 has no v2 fields; whatever lies in its padding is not ours to interpret: they read 0.
    std::fill(region.begin() + kHeaderFieldsSize, region.end(), std::byte{0});
  }
  Header h;
  Decoder dec{region, Status::Ok()};
  ForEachHeaderField(h, dec);
  FVD_RETURN_IF_ERROR(dec.status);
  const uint64_t unknown = h.incompatible_features & ~kKnownIncompatibleFeatures;
  if (unknown != 0) {
    return Status::Unsupported(FieldAt("incompatible_features", 4344) + ": unknown feature bits " +
                               Hex(unknown) + " (written by a newer fvd)");
  }
  return h;
}

}  // namespace fvd::format
