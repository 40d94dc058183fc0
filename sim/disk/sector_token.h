// Token sectors: the simulator's compact sector contents. A guest write or a base image fills
// each 512-byte sector with one of these, so the simulated disks store 8 bytes per sector
// instead of 512 and a 1 TiB disk fits in little memory; the engine still moves every byte.
//
// The sector of a nonzero token T holds the 8 little-endian bytes of T, then 496 zero bytes,
// then the 8 little-endian bytes of ~T, so a sector copied in part, shifted, or mixed with
// another is not a token sector of either. Token 0 stands for the all-zero sector. Any other
// content (the engine's metadata, a proptest's random bytes) is simply not a token sector.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace fvd::sim {

inline constexpr uint64_t kTokenSectorBytes = 512;

// Fills `sector` (512 bytes) with token `token`'s content.
void FillTokenSector(uint64_t token, std::span<std::byte> sector);

// The token whose content `sector` (512 bytes) holds, or nullopt for any other content.
std::optional<uint64_t> TokenOf(std::span<const std::byte> sector);

// A nonzero token drawn from `random` (0 becomes 1): guest data is never the zero sector.
inline uint64_t NonzeroToken(uint64_t random) {
  return random == 0 ? 1 : random;
}

}  // namespace fvd::sim
