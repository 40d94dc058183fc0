// The seeded content of a disk's never-written sectors (a base image's data), computed on
// demand: sector s starting below `nonzero_bytes` holds the token sector (sector_token.h) of
// a nonzero token derived from DeriveSeed(seed, s); every sector above reads zeros. Shared by
// SimDisk and the oracle, which needs the original value of single sectors.
#pragma once

#include <cstdint>
#include <span>

namespace fvd::sim {

// The token of sector `sector`'s initial content (0: zeros).
uint64_t InitialToken(uint64_t seed, uint64_t nonzero_bytes, uint64_t sector);

// Fills `out` (512 bytes) with sector `sector`'s initial content.
void FillInitialSector(uint64_t seed, uint64_t nonzero_bytes, uint64_t sector,
                       std::span<std::byte> out);

}  // namespace fvd::sim
