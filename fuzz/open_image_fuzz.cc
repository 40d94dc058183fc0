// Opening a whole arbitrary image file on the in-memory device, over a 192 KiB base: read-only
// first (the journal is replayed in memory), then read-write (recovery writes back), each
// followed by reads, a write, a flush, a check and a close. Nothing may crash or hang.
#include "fuzz/fuzz_world.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fvd;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  for (AccessMode access : {AccessMode::kReadOnly, AccessMode::kReadWrite}) {
    fuzz::World w;
    w.MakeBase(192 << 10);
    w.image.ResizeNow(size);
    w.image.WriteNow(0, bytes);
    w.Exercise(access);
  }
  return 0;
}
