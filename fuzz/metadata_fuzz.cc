// Bitmap and chunk-table decoding on arbitrary bytes. The first 8 bytes choose the bit and
// entry counts; the rest is the region. Property: what decodes encodes back to the same bytes.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/format/bitmap.h"
#include "core/format/chunk_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fvd::format;
  if (size < 8) return 0;
  uint32_t bits = 0, entries = 0;
  std::memcpy(&bits, data, 4);
  std::memcpy(&entries, data + 4, 4);
  bits %= 1 << 20;
  entries %= 1 << 16;
  const std::span<const std::byte> region(reinterpret_cast<const std::byte*>(data + 8), size - 8);
  if (auto bm = Bitmap::Decode(region, bits); bm.ok()) {
    std::vector<std::byte> out(region.size());
    if (out.size() >= bm->byte_size()) {
      bm->Encode(out);
      auto again = Bitmap::Decode(out, bits);
      if (!again.ok() || !(*again == *bm)) std::abort();
    }
    if (bits > 0) {
      (void)bm->AllSet(0, bits);
      (void)bm->NoneSet(bits / 2, bits - bits / 2);
      (void)bm->CountSet();
    }
  }
  if (auto table = DecodeChunkTable(region, entries); table.ok()) {
    std::vector<std::byte> out(region.size());
    EncodeChunkTable(*table, out);
    auto again = DecodeChunkTable(out, entries);
    if (!again.ok() || *again != *table) std::abort();
  }
  return 0;
}
