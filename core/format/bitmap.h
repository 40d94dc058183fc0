// The FVD bitmap: one bit per block of the base-image range, LSB first (bit b is bit b % 8 of
// byte b / 8). 0 = the block's data is in the base image, 1 = it is in the FVD image. Bits are
// only ever set, never cleared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/util/status.h"

namespace fvd::format {

class Bitmap {
 public:
  Bitmap() = default;
  explicit Bitmap(uint64_t bits) : bits_(bits), bytes_((bits + 7) / 8) {}

  // Loads `bits` bits from on-disk bytes. Fails if `bytes` holds fewer than ceil(bits / 8).
  // Bits past `bits` in the last byte are ignored (masked to zero).
  static Result<Bitmap> Decode(std::span<const std::byte> bytes, uint64_t bits);
  // Writes the bitmap into `out` (at least byte_size() bytes); the rest of `out` is zeroed.
  void Encode(std::span<std::byte> out) const;

  uint64_t bits() const { return bits_; }
  size_t byte_size() const { return bytes_.size(); }

  // REQUIRES: b < bits()
  bool Test(uint64_t b) const { return (bytes_[b >> 3] >> (b & 7)) & 1; }
  void Set(uint64_t b) { bytes_[b >> 3] = static_cast<uint8_t>(bytes_[b >> 3] | (1u << (b & 7))); }
  // Sets bits [first, first + count). REQUIRES: first + count <= bits()
  void SetRange(uint64_t first, uint64_t count);
  // True if every bit in [first, first + count) is set (true for count == 0).
  bool AllSet(uint64_t first, uint64_t count) const;
  // True if no bit in [first, first + count) is set.
  bool NoneSet(uint64_t first, uint64_t count) const;
  uint64_t CountSet() const;
  // Sets every bit of `other` here too (union). REQUIRES: same bits().
  void Merge(const Bitmap& other);
  // The raw bytes (LSB first), as they go to disk.
  std::span<const uint8_t> bytes() const { return bytes_; }

  bool operator==(const Bitmap&) const = default;

 private:
  uint64_t bits_ = 0;
  std::vector<uint8_t> bytes_;
};

}  // namespace fvd::format
