// CPU cost of the engine's pure metadata work, the part of every request that touches no
// device: bitmap queries and updates, chunk-table lookups (guest range to data-file runs),
// splitting a guest range between base and image, and journal sector encoding and decoding.
// Each benchmark works on the default layout of a 16 GiB overlay (512-byte blocks, so a
// 4 MiB bitmap) or a 16 GiB compact image (1 MiB chunks, 16384 table entries). The nightly
// runner (bench/nightly/) gates on these figures.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "bench/calibrate.h"
#include "core/format/bitmap.h"
#include "core/format/journal_sector.h"
#include "core/format/layout.h"
#include "core/image/extents.h"
#include "core/image/journal.h"
#include "core/util/prng.h"

namespace fvd {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t k4K = 4096;

format::Header PlanOrDie(format::CreateOptions o) {
  auto h = format::PlanImage(o);
  if (!h.ok()) std::abort();
  return *h;
}

format::Header OverlayHeader() {
  format::CreateOptions o;
  o.virtual_size = 16 * kGiB;
  o.base_img = "base.raw";
  o.base_img_length = 16 * kGiB;
  return PlanOrDie(o);
}

format::Header CompactHeader() {
  format::CreateOptions o;
  o.virtual_size = 16 * kGiB;
  o.compact_image = true;
  return PlanOrDie(o);
}

// A bitmap with every other 64 KiB of the base already copied, so queries see both answers.
format::Bitmap HalfCopiedBitmap(const format::Header& h) {
  format::Bitmap b(h.bitmap_bits());
  const uint64_t run = 65536 / h.block_size;
  for (uint64_t first = 0; first + run <= b.bits(); first += 2 * run) b.SetRange(first, run);
  return b;
}

// Random 4 KiB-aligned guest offsets inside `size`, precomputed so the PRNG is not measured.
std::vector<uint64_t> RandomOffsets(uint64_t size, uint64_t align) {
  Prng prng(7);
  std::vector<uint64_t> out(4096);
  for (auto& o : out) o = prng.Below(size / align) * align;
  return out;
}

void BM_Bitmap_AllSet4K(benchmark::State& state) {
  DeclareTiny(state);
  const auto h = OverlayHeader();
  const auto bitmap = HalfCopiedBitmap(h);
  const auto offsets = RandomOffsets(h.base_img_size, k4K);
  const uint64_t blocks = k4K / h.block_size;
  size_t i = 0;
  for (auto _ : state) {
    const uint64_t first = offsets[i++ % offsets.size()] / h.block_size;
    benchmark::DoNotOptimize(bitmap.AllSet(first, blocks));
  }
}

void BM_Bitmap_SetRange64K(benchmark::State& state) {
  DeclareTiny(state);
  const auto h = OverlayHeader();
  format::Bitmap bitmap(h.bitmap_bits());
  const auto offsets = RandomOffsets(h.base_img_size - 65536, k4K);
  const uint64_t blocks = 65536 / h.block_size;
  size_t i = 0;
  for (auto _ : state) {
    bitmap.SetRange(offsets[i++ % offsets.size()] / h.block_size, blocks);
    benchmark::ClobberMemory();
  }
}

// The copy-on-read question: is any of a 64 KiB range already in the image?
void BM_Bitmap_NoneSet64K(benchmark::State& state) {
  DeclareTiny(state);
  const auto h = OverlayHeader();
  const auto bitmap = HalfCopiedBitmap(h);
  const auto offsets = RandomOffsets(h.base_img_size - 65536, k4K);
  const uint64_t blocks = 65536 / h.block_size;
  size_t i = 0;
  for (auto _ : state) {
    const uint64_t first = offsets[i++ % offsets.size()] / h.block_size;
    benchmark::DoNotOptimize(bitmap.NoneSet(first, blocks));
  }
}

// The read path's first question: which parts of a 64 KiB guest read are still in the base.
void BM_Extents_SplitBySource64K(benchmark::State& state) {
  const auto h = OverlayHeader();
  const auto bitmap = HalfCopiedBitmap(h);
  const auto offsets = RandomOffsets(h.base_img_size - 65536, k4K);
  size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(SplitBySource(h, &bitmap, offsets[i++ % offsets.size()], 65536));
}

// Chunk-table lookups of a compact image with every chunk allocated, in a shuffled order.
std::vector<uint32_t> ShuffledTable(const format::Header& h) {
  std::vector<uint32_t> table(h.table_entries());
  for (uint32_t e = 0; e < table.size(); ++e) table[e] = e;
  Prng prng(3);
  for (size_t e = table.size(); e > 1; --e) std::swap(table[e - 1], table[prng.Below(e)]);
  return table;
}

void BM_Table_SinglePhysicalRun4K(benchmark::State& state) {
  DeclareTiny(state);
  const auto h = CompactHeader();
  const auto table = ShuffledTable(h);
  const auto offsets = RandomOffsets(h.virtual_disk_size, k4K);
  size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(SinglePhysicalRun(h, table, offsets[i++ % offsets.size()], k4K));
}

// A 4 MiB range crosses four or five chunks, each a run of its own in a shuffled table.
void BM_Table_MapToData4MiB(benchmark::State& state) {
  const auto h = CompactHeader();
  const auto table = ShuffledTable(h);
  const auto offsets = RandomOffsets(h.virtual_disk_size - (4 << 20), k4K);
  size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(MapToData(h, table, offsets[i++ % offsets.size()], 4 << 20));
}

// The journal record of one allocating write: a bitmap record (overlay) or a table record and
// a bitmap record (compact), encoded into a v2 sector with its CRC32C.
void BM_Journal_EncodeBitmapRecord(benchmark::State& state) {
  const std::vector<JournalUpdate> updates{
      {.first_sector = 800, .num_sectors = 8, .first_entry = 0, .entries = {}}};
  for (auto _ : state)
    benchmark::DoNotOptimize(EncodeUpdates(updates, format::JournalFormat::kV2, 1, 2048));
}

void BM_Journal_EncodeTableRecord(benchmark::State& state) {
  const std::vector<JournalUpdate> updates{
      {.first_sector = 2048 * 9, .num_sectors = 2048, .first_entry = 9, .entries = {4}}};
  for (auto _ : state)
    benchmark::DoNotOptimize(EncodeUpdates(updates, format::JournalFormat::kV2, 1, 2048));
}

// Recovery's inner loop: decoding a full sector (116 table entries and a bitmap record).
void BM_Journal_DecodeFullSector(benchmark::State& state) {
  JournalUpdate u{.first_sector = 0, .num_sectors = 116 * 2048, .first_entry = 0, .entries = {}};
  for (uint32_t e = 0; e < 116; ++e) u.entries.push_back(e);
  const auto sectors = EncodeUpdates({u}, format::JournalFormat::kV2, 1, 2048);
  if (sectors.size() != 1) std::abort();
  for (auto _ : state) {
    auto d = format::DecodeJournalSector(sectors[0], format::JournalFormat::kV2, 1);
    if (d.verdict != format::SectorVerdict::kValid) std::abort();
    benchmark::DoNotOptimize(d);
  }
}

BENCHMARK(BM_Calibrate);
BENCHMARK(BM_Bitmap_AllSet4K);
BENCHMARK(BM_Bitmap_SetRange64K);
BENCHMARK(BM_Bitmap_NoneSet64K);
BENCHMARK(BM_Extents_SplitBySource64K);
BENCHMARK(BM_Table_SinglePhysicalRun4K);
BENCHMARK(BM_Table_MapToData4MiB);
BENCHMARK(BM_Journal_EncodeBitmapRecord);
BENCHMARK(BM_Journal_EncodeTableRecord);
BENCHMARK(BM_Journal_DecodeFullSector);

}  // namespace
}  // namespace fvd

BENCHMARK_MAIN();
