// CRC32C (Castagnoli), the checksum of v2 headers and journal sectors. Standard parameters:
// init 0xFFFFFFFF, final xor 0xFFFFFFFF, reflected; Crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace fvd {

uint32_t Crc32c(std::span<const std::byte> data);

// Continue a CRC: Crc32cExtend(Crc32c(a), b) == Crc32c(a ++ b).
uint32_t Crc32cExtend(uint32_t crc, std::span<const std::byte> data);

}  // namespace fvd
