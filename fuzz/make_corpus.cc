// Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from images our own
// code makes: fresh and crashed images in several layouts. Run by scripts/fuzz.sh --corpus;
// the output is committed. Deterministic: the same files every time.
//
//   make_corpus OUT_DIR
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/format/layout.h"
#include "core/image/image_file.h"
#include "core/image/journal.h"
#include "fuzz/fuzz_world.h"

namespace fvd::fuzz {
namespace {

namespace fs = std::filesystem;

void Save(const fs::path& dir, const std::string& name, std::span<const std::byte> bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::byte> ReadAll(MemoryDevice& dev, uint64_t offset, uint64_t length) {
  std::vector<std::byte> out(length);
  dev.ReadNow(offset, out);
  return out;
}

struct Layout {
  const char* name;
  bool base;
  bool compact;
  uint64_t journal;
  uint32_t block;
  bool profile = false;  // records a prefetch profile, and holds one already
};

// One layout: a fresh image, then the same image after writes and a crash (no close).
void Make(const fs::path& out, const Layout& l) {
  // Small, so the files stay small: libFuzzer mutates every byte of them.
  World w;
  w.MakeBase(192 << 10);
  format::CreateOptions o;
  o.virtual_size = 256 << 10;
  if (l.base) {
    o.base_img = "base.raw";
    o.base_img_length = 192 << 10;
  }
  o.compact_image = l.compact;
  o.chunk_size = 16 << 10;
  o.storage_grow_unit = 32 << 10;
  o.block_size = l.block;
  o.journal_size = l.journal;
  if (l.profile) {
    o.generate_prefetch_profile = true;
    o.prefetch_profile_capacity = 8;
    o.profile_directed_prefetch_start_delay = 0;
  }
  auto h = format::PlanImage(o);
  if (!h.ok()) {
    std::fprintf(stderr, "%s: %s\n", l.name, h.status().ToString().c_str());
    std::exit(1);
  }
  const LoopDriver drive = [&](const std::function<bool()>& done) { w.loop.RunUntil(done); };
  if (!WriteNewImage(w.image, nullptr, drive, *h).ok()) std::exit(1);
  if (l.profile) {
    const std::vector<format::ProfileEntry> boot{{64 << 10, 8192}, {0, 4096}, {128 << 10, 4096}};
    if (!WriteStoredProfile(w.image, drive, *h, boot).ok()) std::exit(1);
  }
  const std::string n = l.name;
  const auto fresh = ReadAll(w.image, 0, w.image.size());
  Save(out / "open_image", n + "-fresh", fresh);
  Save(out / "header", n, std::span(fresh).subspan(0, format::kHeaderRegionSize));

  // Writes in unbuffered mode (every record hits the journal at once), then a crash.
  ImageEnv env{w.loop, w.loop, w.random};
  auto img = w.Run(Image::Open(env, {&w.image, nullptr, l.base ? &w.base : nullptr},
                               {.journal_mode = JournalMode::kUnbuffered}));
  if (!img || !img->ok()) std::exit(1);
  std::vector<std::byte> data(6144, std::byte{0xa5});
  for (uint64_t off : {uint64_t{512}, uint64_t{70000 / 512 * 512}, uint64_t{200 << 10}}) {
    (void)w.Run((**img)->Write(off, data));
  }
  const uint64_t epoch = (**img)->header().journal_epoch;
  img->value().reset();  // crash: no close
  const auto crashed = ReadAll(w.image, 0, w.image.size());
  Save(out / "open_image", n + "-crashed", crashed);
  if (h->compact_image && h->has_journal()) {
    // The crashed image plus, in its last journal sector, a well-formed record of the current
    // epoch that maps a chunk past the table: a journal corrupt beyond replay (the image must
    // open read-only; fvd-img's tests use this file too).
    JournalUpdate impossible;
    impossible.first_sector = 0;
    impossible.num_sectors = h->chunk_size / 512;
    impossible.first_entry = static_cast<uint32_t>(h->table_entries()) + 100;
    impossible.entries = {1};
    const auto sectors =
        EncodeUpdates({impossible}, format::JournalFormat::kV2, epoch, h->chunk_size / 512);
    auto bad = crashed;
    std::copy(sectors[0].begin(), sectors[0].end(),
              bad.begin() + static_cast<ptrdiff_t>(h->journal_offset + h->journal_size - 512));
    Save(out / "open_image", n + "-unreplayable", bad);
  }
  if (h->has_journal()) {
    Save(out / "journal_replay", n, std::span(crashed).subspan(h->journal_offset, h->journal_size));
  }
  // Metadata regions with their counts in front, as metadata_fuzz reads them.
  auto with_counts = [&](uint32_t bits, uint32_t entries, std::span<const std::byte> region) {
    std::vector<std::byte> v(8);
    std::memcpy(v.data(), &bits, 4);
    std::memcpy(v.data() + 4, &entries, 4);
    v.insert(v.end(), region.begin(), region.end());
    return v;
  };
  if (h->has_bitmap()) {
    Save(out / "metadata", n + "-bitmap",
         with_counts(static_cast<uint32_t>(h->bitmap_bits()), 0,
                     std::span(crashed).subspan(h->bitmap_offset, h->bitmap_size)));
  }
  if (h->compact_image) {
    Save(out / "metadata", n + "-table",
         with_counts(0, static_cast<uint32_t>(h->table_entries()),
                     std::span(crashed).subspan(h->table_offset, h->table_region_size())));
  }
}

// Headers that ask for more memory than an open may spend: a 64 GiB bitmap, a table of 2^30
// entries (a 4 GiB table). Only the 8 KiB header is in the file; open_image_fuzz makes the device as large as
// its metadata_size, reading zeros past it, so the open reaches the memory check (and, without
// it, libFuzzer's -malloc_limit_mb would report the allocation).
void MakeGreedy(const fs::path& out) {
  format::CreateOptions o;
  o.virtual_size = 256 << 10;
  o.base_img = "base.raw";
  o.base_img_length = 192 << 10;
  o.journal_size = 0;
  auto h = format::PlanImage(o);
  if (!h.ok()) std::abort();
  h->bitmap_size = uint64_t{64} << 30;
  h->metadata_size = h->bitmap_offset + h->bitmap_size;
  auto bytes = format::EncodeHeader(*h);
  if (!bytes.ok()) std::abort();
  Save(out / "open_image", "greedy-bitmap", *bytes);
  format::CreateOptions c;
  c.virtual_size = uint64_t{1} << 39;
  c.compact_image = true;
  c.chunk_size = 512;
  c.storage_grow_unit = 512;
  c.journal_size = 0;
  auto t = format::PlanImage(c);
  if (!t.ok()) std::abort();
  auto table = format::EncodeHeader(*t);
  if (!table.ok()) std::abort();
  Save(out / "open_image", "greedy-table", *table);
}

}  // namespace
}  // namespace fvd::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  using fvd::fuzz::Layout;
  for (const Layout& l :
       {Layout{"overlay", true, false, 8192, 4096},
        Layout{"overlay-compact", true, true, 8192, 4096},
        Layout{"overlay-compact-512", true, true, 4096, 512},
        Layout{"compact", false, true, 8192, 0}, Layout{"overlay-nojournal", true, false, 0, 512},
        Layout{"plain", false, false, 4096, 0},
        Layout{"overlay-profile", true, false, 8192, 4096, true}}) {
    fvd::fuzz::Make(argv[1], l);
  }
  fvd::fuzz::MakeGreedy(argv[1]);
  return 0;
}
