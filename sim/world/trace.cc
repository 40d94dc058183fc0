#include "sim/world/trace.h"

#include <isa-l/crc64.h>

#include <array>

#include "core/util/endian.h"

namespace fvd::sim {
namespace {

// Fields folded per CRC call: an event's fields go in one call (a call costs a setup that
// dwarfs 8 bytes). CRC-64 chains, so the digest is the same as one call per field.
constexpr size_t kBatchFields = 16;

}  // namespace

void Trace::Add(std::initializer_list<uint64_t> fields) {
  std::array<std::byte, kBatchFields * 8> le;
  size_t n = 0;
  for (uint64_t f : fields) {
    StoreLE64(le, n * 8, f);  // little-endian bytes: the same digest on every host
    if (++n == kBatchFields) {
      digest_ = crc64_ecma_refl(digest_, reinterpret_cast<const uint8_t*>(le.data()), n * 8);
      n = 0;
    }
  }
  if (n > 0) digest_ = crc64_ecma_refl(digest_, reinterpret_cast<const uint8_t*>(le.data()), n * 8);
  ++events_;
}

}  // namespace fvd::sim
