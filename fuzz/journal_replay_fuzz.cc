// Journal replay over arbitrary journal bytes: a valid small compact overlay whose journal
// region holds the input, marked unclean, then opened read-write (recovery replays the
// journal), read, written, checked and closed. Nothing may crash or hang; whatever replays
// must leave a table that maps no chunk twice (Open checks it).
#include <algorithm>

#include "core/format/layout.h"
#include "core/image/image_file.h"
#include "fuzz/fuzz_world.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fvd;
  fuzz::World w;
  w.MakeBase(192 << 10);
  format::CreateOptions o;  // as make_corpus's overlay-compact layout
  o.virtual_size = 256 << 10;
  o.base_img = "base.raw";
  o.base_img_length = 192 << 10;
  o.compact_image = true;
  o.chunk_size = 16 << 10;
  o.storage_grow_unit = 32 << 10;
  o.block_size = 4096;
  o.journal_size = 8 << 10;
  auto h = format::PlanImage(o);
  if (!h.ok()) std::abort();
  const LoopDriver drive = [&](const std::function<bool()>& done) { w.loop.RunUntil(done); };
  if (!WriteNewImage(w.image, nullptr, drive, *h).ok()) std::abort();
  const size_t n = std::min<size_t>(size, h->journal_size);
  w.image.WriteNow(h->journal_offset, std::span(reinterpret_cast<const std::byte*>(data), n));
  // Room for the chunks the records may name.
  w.image.ResizeNow(h->metadata_size + 16 * o.chunk_size);
  format::Header unclean = *h;
  unclean.clean_shutdown = false;
  w.image.WriteNow(0, *format::EncodeHeader(unclean));
  w.Exercise(AccessMode::kReadWrite);
  return 0;
}
