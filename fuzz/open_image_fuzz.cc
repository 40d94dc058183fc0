// Opening a whole arbitrary image file on the in-memory device, over a 192 KiB base: read-only
// first (the journal is replayed in memory), then read-write (recovery writes back), each
// followed by reads, a write, a flush, a check and a close. Nothing may crash or hang.
//
// The device may be larger than the input: as large as the header says its metadata is (up to
// 1 TiB), reading zeros past the input, as a sparse file would. So a header that claims a huge
// bitmap or table reaches the open's allocations, and with libFuzzer's -malloc_limit_mb
// (scripts/fuzz.sh) one that asks for too much memory is a finding.
#include "core/format/header.h"
#include "fuzz/fuzz_world.h"

namespace {

uint64_t DeviceSize(std::span<const std::byte> bytes) {
  constexpr uint64_t kMax = uint64_t{1} << 40;
  auto h = fvd::format::DecodeHeader(bytes.first(std::min<size_t>(bytes.size(), 8192)));
  if (!h.ok()) return bytes.size();
  return std::max<uint64_t>(bytes.size(), std::min(h->metadata_size, kMax) / 512 * 512);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fvd;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  for (AccessMode access : {AccessMode::kReadOnly, AccessMode::kReadWrite}) {
    fuzz::World w;
    w.MakeBase(192 << 10);
    w.image.ResizeNow(DeviceSize(bytes));
    w.image.WriteNow(0, bytes);
    w.Exercise(access);
  }
  return 0;
}
