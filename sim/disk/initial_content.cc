#include "sim/disk/initial_content.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/util/endian.h"
#include "core/util/prng.h"

namespace fvd::sim {

void FillInitialSector(uint64_t seed, uint64_t nonzero_bytes, uint64_t sector,
                       std::span<std::byte> out) {
  std::fill(out.begin(), out.end(), std::byte{0});
  const uint64_t begin = sector * 512;
  if (begin >= nonzero_bytes) return;
  const uint64_t n = std::min<uint64_t>(out.size(), nonzero_bytes - begin);
  Prng p(DeriveSeed(seed, sector));
  for (uint64_t i = 0; i < n; i += 8) {
    std::array<std::byte, 8> le;
    StoreLE64(le, 0, p.NextU64());  // little-endian bytes: the same content on every host
    std::memcpy(out.data() + i, le.data(), std::min<uint64_t>(8, n - i));
  }
}

}  // namespace fvd::sim
