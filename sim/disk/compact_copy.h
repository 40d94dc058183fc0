// CompactCopy: a copy of a write's bytes that keeps them as tokens when every 512-byte sector
// of the write is a token sector (sector_token.h), and as bytes otherwise. A simulated disk's
// volatile cache holds its writes this way, so a long run without flushes stays small.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fvd::sim {

class CompactCopy {
 public:
  CompactCopy() = default;
  explicit CompactCopy(std::span<const std::byte> data);

  uint64_t size() const { return size_; }
  // True while the copy is kept as tokens: then tokens()[i] is sector i's.
  bool compact() const { return compact_; }
  std::span<const uint64_t> tokens() const { return tokens_; }
  // The bytes, decoded (a copy).
  std::vector<std::byte> Bytes() const;
  // The bytes without a copy, while the copy is not compact().
  std::span<const std::byte> raw_bytes() const { return bytes_; }
  // Overwrites [from, from + data.size()), which must lie inside the copy.
  void Patch(uint64_t from, std::span<const std::byte> data);
  // Keeps the first `n` bytes (n <= size()).
  void Truncate(uint64_t n);

 private:
  void Expand();  // tokens -> bytes

  uint64_t size_ = 0;
  bool compact_ = false;
  std::vector<uint64_t> tokens_;  // one per sector, while compact_
  std::vector<std::byte> bytes_;  // otherwise
};

}  // namespace fvd::sim
