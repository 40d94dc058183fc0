// The seeded content of a disk's never-written sectors (a base image's data), computed on
// demand: sector s below `nonzero_bytes` holds 512 bytes drawn from a PRNG seeded with
// DeriveSeed(seed, s); everything above reads zeros. Shared by SimDisk and the oracle, which
// needs the original value of single sectors.
#pragma once

#include <cstdint>
#include <span>

namespace fvd::sim {

// Fills `out` (512 bytes) with sector `sector`'s initial content.
void FillInitialSector(uint64_t seed, uint64_t nonzero_bytes, uint64_t sector,
                       std::span<std::byte> out);

}  // namespace fvd::sim
