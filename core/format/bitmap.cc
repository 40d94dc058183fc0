#include "core/format/bitmap.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <string>

namespace fvd::format {

Result<Bitmap> Bitmap::Decode(std::span<const std::byte> bytes, uint64_t bits) {
  Bitmap bm(bits);
  if (bytes.size() < bm.bytes_.size()) {
    return Status::Corruption("bitmap of " + std::to_string(bits) + " bits needs " +
                              std::to_string(bm.bytes_.size()) + " bytes, found " +
                              std::to_string(bytes.size()));
  }
  // (std::copy, not memcpy: an empty bitmap has no storage, and memcpy of null is undefined.)
  std::copy(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(bm.bytes_.size()),
            reinterpret_cast<std::byte*>(bm.bytes_.data()));
  if (bits % 8 != 0) bm.bytes_.back() &= static_cast<uint8_t>((1u << (bits % 8)) - 1);
  return bm;
}

void Bitmap::Encode(std::span<std::byte> out) const {
  assert(out.size() >= bytes_.size());
  const auto* from = reinterpret_cast<const std::byte*>(bytes_.data());
  std::copy(from, from + bytes_.size(), out.begin());
  std::fill(out.begin() + static_cast<ptrdiff_t>(bytes_.size()), out.end(), std::byte{0});
}

void Bitmap::SetRange(uint64_t first, uint64_t count) {
  assert(first + count <= bits_);
  uint64_t b = first;
  const uint64_t end = first + count;
  for (; b < end && (b & 7) != 0; ++b) Set(b);
  const uint64_t whole_bytes = (end - b) / 8;
  std::memset(bytes_.data() + (b >> 3), 0xFF, whole_bytes);
  b += whole_bytes * 8;
  for (; b < end; ++b) Set(b);
}

bool Bitmap::AllSet(uint64_t first, uint64_t count) const {
  uint64_t b = first;
  const uint64_t end = first + count;
  for (; b < end && (b & 7) != 0; ++b) {
    if (!Test(b)) return false;
  }
  for (; b + 8 <= end; b += 8) {
    if (bytes_[b >> 3] != 0xFF) return false;
  }
  for (; b < end; ++b) {
    if (!Test(b)) return false;
  }
  return true;
}

bool Bitmap::NoneSet(uint64_t first, uint64_t count) const {
  uint64_t b = first;
  const uint64_t end = first + count;
  for (; b < end && (b & 7) != 0; ++b) {
    if (Test(b)) return false;
  }
  for (; b + 8 <= end; b += 8) {
    if (bytes_[b >> 3] != 0) return false;
  }
  for (; b < end; ++b) {
    if (Test(b)) return false;
  }
  return true;
}

uint64_t Bitmap::CountSet() const {
  uint64_t n = 0;
  for (uint8_t byte : bytes_) n += static_cast<uint64_t>(std::popcount(byte));
  return n;
}

void Bitmap::Merge(const Bitmap& other) {
  assert(other.bits_ == bits_);
  for (size_t i = 0; i < bytes_.size(); ++i) bytes_[i] |= other.bytes_[i];
}

}  // namespace fvd::format
