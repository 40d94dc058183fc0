#include "core/util/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace fvd {

// ISA-L's crc32_iscsi computes the raw reflected CRC32C register update; the standard
// CRC32C is that update with the register pre- and post-inverted.
uint32_t Crc32cExtend(uint32_t crc, std::span<const std::byte> data) {
  uint32_t reg = ~crc;
  auto* p = reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data.data()));
  size_t left = data.size();
  while (left > 0) {
    int n = left > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(left);
    reg = crc32_iscsi(p, n, reg);
    p += n;
    left -= static_cast<size_t>(n);
  }
  return ~reg;
}

uint32_t Crc32c(std::span<const std::byte> data) {
  return Crc32cExtend(0, data);
}

}  // namespace fvd
