// Little-endian loads and stores at byte offsets: every on-disk FVD integer is little-endian.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace fvd {

// One unaligned load or store on a little-endian host (the byte-by-byte form compiled to a
// loop); byte by byte elsewhere.
template <typename T>
inline T LoadLE(std::span<const std::byte> buf, size_t offset) {
  static_assert(std::is_unsigned_v<T>);
  T v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, buf.data() + offset, sizeof(T));
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<T>(static_cast<T>(std::to_integer<uint8_t>(buf[offset + i])) << (8 * i));
    }
  }
  return v;
}

template <typename T>
inline void StoreLE(std::span<std::byte> buf, size_t offset, T v) {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(buf.data() + offset, &v, sizeof(T));
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) {
      buf[offset + i] = static_cast<std::byte>(static_cast<uint8_t>(v >> (8 * i)));
    }
  }
}

inline uint32_t LoadLE32(std::span<const std::byte> b, size_t off) {
  return LoadLE<uint32_t>(b, off);
}
inline uint64_t LoadLE64(std::span<const std::byte> b, size_t off) {
  return LoadLE<uint64_t>(b, off);
}
inline void StoreLE32(std::span<std::byte> b, size_t off, uint32_t v) {
  StoreLE<uint32_t>(b, off, v);
}
inline void StoreLE64(std::span<std::byte> b, size_t off, uint64_t v) {
  StoreLE<uint64_t>(b, off, v);
}

}  // namespace fvd
