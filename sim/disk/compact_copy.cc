#include "sim/disk/compact_copy.h"

#include <cassert>
#include <cstring>
#include <optional>

#include "sim/disk/sector_token.h"

namespace fvd::sim {

CompactCopy::CompactCopy(std::span<const std::byte> data) : size_(data.size()) {
  if (size_ % kTokenSectorBytes == 0) {
    compact_ = true;
    tokens_.reserve(size_ / kTokenSectorBytes);
    for (uint64_t at = 0; at < size_; at += kTokenSectorBytes) {
      const std::optional<uint64_t> token = TokenOf(data.subspan(at, kTokenSectorBytes));
      if (!token) {
        compact_ = false;
        tokens_.clear();
        tokens_.shrink_to_fit();
        break;
      }
      tokens_.push_back(*token);
    }
  }
  if (!compact_) bytes_.assign(data.begin(), data.end());
}

std::vector<std::byte> CompactCopy::Bytes() const {
  if (!compact_) return bytes_;
  std::vector<std::byte> out(size_);
  for (uint64_t i = 0; i < tokens_.size(); ++i) {
    FillTokenSector(tokens_[i],
                    std::span<std::byte>(out).subspan(i * kTokenSectorBytes, kTokenSectorBytes));
  }
  return out;
}

void CompactCopy::Expand() {
  if (!compact_) return;
  bytes_ = Bytes();
  compact_ = false;
  tokens_.clear();
  tokens_.shrink_to_fit();
}

void CompactCopy::Patch(uint64_t from, std::span<const std::byte> data) {
  assert(from + data.size() <= size_);
  Expand();
  std::memcpy(bytes_.data() + from, data.data(), data.size());
}

void CompactCopy::Truncate(uint64_t n) {
  assert(n <= size_);
  if (compact_ && n % kTokenSectorBytes == 0) {
    tokens_.resize(n / kTokenSectorBytes);
  } else {
    Expand();
    bytes_.resize(n);
  }
  size_ = n;
}

}  // namespace fvd::sim
