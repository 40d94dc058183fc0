// Header decode and validation on arbitrary bytes. Property: whatever decodes and validates
// encodes back to bytes that decode to the same header.
#include <cstdlib>

#include "core/format/header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fvd::format;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto h = DecodeHeader(bytes);
  if (!h.ok()) return 0;
  (void)ValidateHeader(*h, size);
  (void)ValidateHeader(*h, uint64_t{1} << 40);
  auto encoded = EncodeHeader(*h);
  if (!encoded.ok()) return 0;
  auto again = DecodeHeader(*encoded);
  if (!again.ok()) std::abort();  // we wrote something we cannot read
  auto re_encoded = EncodeHeader(*again);
  if (!re_encoded.ok() || *re_encoded != *encoded) std::abort();
  return 0;
}
