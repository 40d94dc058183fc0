#include "sim/world/trace.h"

#include <isa-l/crc64.h>

#include <array>

#include "core/util/endian.h"

namespace fvd::sim {

void Trace::Add(std::initializer_list<uint64_t> fields) {
  std::array<std::byte, 8> le;
  for (uint64_t f : fields) {
    StoreLE64(le, 0, f);  // little-endian bytes: the same digest on every host
    digest_ = crc64_ecma_refl(digest_, reinterpret_cast<const uint8_t*>(le.data()), le.size());
  }
  ++events_;
}

}  // namespace fvd::sim
