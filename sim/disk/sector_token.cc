#include "sim/disk/sector_token.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>

#include "core/util/endian.h"

namespace fvd::sim {
namespace {

constexpr size_t kTail = kTokenSectorBytes - 8;

// True if bytes [from, to) of `s` are all zero: memcmp against zeros (libc's is vectorized).
bool ZeroBetween(std::span<const std::byte> s, size_t from, size_t to) {
  static constexpr std::array<std::byte, kTokenSectorBytes> kZeros{};
  return std::memcmp(s.data() + from, kZeros.data(), to - from) == 0;
}

}  // namespace

void FillTokenSector(uint64_t token, std::span<std::byte> sector) {
  assert(sector.size() == kTokenSectorBytes);
  std::fill(sector.begin(), sector.end(), std::byte{0});
  if (token == 0) return;
  StoreLE64(sector, 0, token);
  StoreLE64(sector, kTail, ~token);
}

std::optional<uint64_t> TokenOf(std::span<const std::byte> sector) {
  assert(sector.size() == kTokenSectorBytes);
  const uint64_t token = LoadLE64(sector, 0);
  const uint64_t last = LoadLE64(sector, kTail);
  if (token == 0 && last == 0) {
    if (ZeroBetween(sector, 8, kTail)) return 0;
    return std::nullopt;
  }
  if (last != ~token || token == 0) return std::nullopt;
  if (!ZeroBetween(sector, 8, kTail)) return std::nullopt;
  return token;
}

}  // namespace fvd::sim
