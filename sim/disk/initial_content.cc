#include "sim/disk/initial_content.h"

#include "core/util/prng.h"
#include "sim/disk/sector_token.h"

namespace fvd::sim {

uint64_t InitialToken(uint64_t seed, uint64_t nonzero_bytes, uint64_t sector) {
  if (sector * kTokenSectorBytes >= nonzero_bytes) return 0;
  // DeriveSeed's two splitmix64 rounds mix well enough for a sector's data; a Prng seeded from
  // it cost four more rounds per sector, a tenth of boot.yaml's time.
  return NonzeroToken(DeriveSeed(seed, sector));
}

void FillInitialSector(uint64_t seed, uint64_t nonzero_bytes, uint64_t sector,
                       std::span<std::byte> out) {
  FillTokenSector(InitialToken(seed, nonzero_bytes, sector), out);
}

}  // namespace fvd::sim
