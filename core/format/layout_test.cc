#include "core/format/layout.h"

#include <gtest/gtest.h>

#include "core/format/profile_region.h"

namespace fvd::format {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = 1ull << 30;

TEST(LayoutTest, AutoBlockSizeKeepsBitmapAtMost4MiB) {
  // 4 MiB of bitmap is 32 Mi bits: 512-byte blocks cover 16 GiB.
  EXPECT_EQ(AutoBlockSize(1 * kGiB), 512u);
  EXPECT_EQ(AutoBlockSize(16 * kGiB), 512u);
  EXPECT_EQ(AutoBlockSize(16 * kGiB + 512), 1024u);
  EXPECT_EQ(AutoBlockSize(1024 * kGiB), 32768u);
}

TEST(LayoutTest, BaseImageLayoutInV1Order) {
  CreateOptions o;
  o.virtual_size = 1 * kGiB;
  o.base_img = "base.raw";
  o.base_img_length = 1 * kGiB - 100;  // not a multiple of 512: rounded up
  auto h = PlanImage(o);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->version, 2u);
  EXPECT_FALSE(h->all_data_in_fvd_img);
  EXPECT_EQ(h->base_img_size, 1 * kGiB);
  EXPECT_EQ(h->block_size, 512u);
  EXPECT_EQ(h->bitmap_offset, 8192u);
  EXPECT_EQ(h->bitmap_size, 256 * 1024u);  // 2 Mi blocks / 8
  EXPECT_EQ(h->journal_offset, 8192u + 256 * 1024);
  EXPECT_EQ(h->journal_size, 16 * kMiB);
  EXPECT_EQ(h->metadata_size, 8192u + 256 * 1024 + 16 * kMiB);
  EXPECT_EQ(h->data_offset(), h->metadata_size);
  EXPECT_TRUE(h->clean_shutdown);
  EXPECT_FALSE(h->need_zero_init);
  EXPECT_EQ(InitialFileSize(*h), h->metadata_size + 1 * kGiB);
  EXPECT_TRUE(ValidateHeader(*h, InitialFileSize(*h)).ok());
}

TEST(LayoutTest, SizeDefaultsToBase) {
  CreateOptions o;
  o.base_img = "b";
  o.base_img_length = 10 * kMiB + 1;
  auto h = PlanImage(o);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->virtual_disk_size, 10 * kMiB + 512);
}

TEST(LayoutTest, CompactWithoutBase) {
  CreateOptions o;
  o.virtual_size = 10 * kGiB;
  o.compact_image = true;
  auto h = PlanImage(o);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->has_bitmap());
  EXPECT_EQ(h->table_offset, 8192u);
  EXPECT_EQ(h->table_entries(), 10240u);
  EXPECT_EQ(h->journal_offset, 8192u + 40960);
  EXPECT_EQ(InitialFileSize(*h), h->metadata_size);  // data grows on demand
  EXPECT_TRUE(ValidateHeader(*h, h->metadata_size).ok());
}

TEST(LayoutTest, PlainImageHasNoMetadataRegions) {
  CreateOptions o;
  o.virtual_size = 64 * kMiB;
  auto h = PlanImage(o);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->metadata_size, 8192u);
  EXPECT_FALSE(h->has_journal());
  EXPECT_TRUE(h->need_zero_init);
  EXPECT_TRUE(h->all_data_in_fvd_img);
}

TEST(LayoutTest, JournalAtLeastHoldsTheTable) {
  CreateOptions o;
  o.virtual_size = 1024 * kGiB;
  o.compact_image = true;
  o.chunk_size = 64 * 1024;  // 16 Mi entries
  o.journal_size = 4096;
  auto h = PlanImage(o);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->journal_size, MinJournalSize(16 * kMiB));
  EXPECT_GE(h->journal_size / 512 * 116, 16 * kMiB);
}

TEST(LayoutTest, BadOptionsNameOptionAndValue) {
  CreateOptions o;
  o.virtual_size = 1000;
  EXPECT_NE(PlanImage(o).status().message().find("1000 is not a multiple of 512"),
            std::string::npos);
  o.virtual_size = kGiB;
  o.block_size = 700;
  EXPECT_NE(PlanImage(o).status().message().find("block_size=700"), std::string::npos);
  o.block_size = 4096;
  o.base_img = "b";
  o.base_img_length = kGiB;
  o.compact_image = true;
  o.chunk_size = 2048;
  EXPECT_NE(PlanImage(o).status().message().find("chunk_size=2048"), std::string::npos);
  o.chunk_size = kMiB;
  o.detect_sparse_hole = true;
  EXPECT_NE(PlanImage(o).status().message().find("detect_sparse_hole"), std::string::npos);
  o.detect_sparse_hole = false;
  o.base_img = std::string(2000, 'x');
  EXPECT_NE(PlanImage(o).status().message().find("'base_img'"), std::string::npos);
}

TEST(LayoutTest, EveryOptionCheckNamesItsOption) {
  const auto error = [](CreateOptions o) { return PlanImage(o).status().message(); };
  CreateOptions base;
  base.virtual_size = kGiB;
  CreateOptions o = base;
  o.compact_image = true;
  o.chunk_size = 1000;
  EXPECT_NE(error(o).find("chunk_size=1000 is not a positive multiple of 512"), std::string::npos)
      << error(o);
  o.chunk_size = kMiB;
  o.storage_grow_unit = 4096;
  EXPECT_NE(error(o).find("storage_grow_unit=4096 is smaller than chunk_size"), std::string::npos)
      << error(o);
  o = base;
  o.detect_sparse_hole = true;
  EXPECT_NE(error(o).find("detect_sparse_hole needs a base image"), std::string::npos) << error(o);
  o = base;
  o.base_img = "b";
  o.base_img_length = kGiB;
  o.prefetch_profile_capacity = kMaxProfileCapacity + 1;
  EXPECT_NE(error(o).find("exceeds " + std::to_string(kMaxProfileCapacity)), std::string::npos)
      << error(o);
  o.prefetch_profile_capacity = 0;
  o.journal_size = 1000;
  EXPECT_NE(error(o).find("journal_size=1000 is not a multiple of 512"), std::string::npos)
      << error(o);
}

}  // namespace
}  // namespace fvd::format

namespace fvd::format {
namespace {

// An overlay of a 1 GiB base that records a prefetch profile.
CreateOptions RecordingOverlay() {
  CreateOptions o;
  o.base_img = "base.raw";
  o.base_img_length = 1 << 30;
  o.generate_prefetch_profile = true;
  return o;
}

TEST(LayoutTest, ARecordingImageGetsAProfileRegionAfterTheJournal) {
  CreateOptions o = RecordingOverlay();
  auto h = PlanImage(o);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_TRUE(h->generate_prefetch_profile);
  EXPECT_EQ(h->prefetch_profile_entries, kDefaultProfileCapacity);
  EXPECT_EQ(h->prefetch_profile_offset, h->journal_offset + h->journal_size);
  // 512 + 16384 * 12 bytes, in whole 4 KiB.
  EXPECT_EQ(h->metadata_size, h->prefetch_profile_offset + 200704);
  EXPECT_TRUE(ValidateHeader(*h, InitialFileSize(*h)).ok());

  o.prefetch_profile_capacity = 100;
  o.profile_directed_prefetch_start_delay = 3;
  h = PlanImage(o);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->prefetch_profile_entries, 100u);
  EXPECT_EQ(h->profile_directed_prefetch_start_delay, 3);
  EXPECT_EQ(h->metadata_size, h->prefetch_profile_offset + 4096);
}

TEST(LayoutTest, ProfileOptionsNeedABase) {
  CreateOptions o;
  o.virtual_size = 1 << 30;
  o.generate_prefetch_profile = true;
  auto h = PlanImage(o);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("need a base image"), std::string::npos);
}

TEST(LayoutTest, AProfileRegionOverlappingAnotherIsCorrupt) {
  auto h = PlanImage(RecordingOverlay());
  ASSERT_TRUE(h.ok());
  Header bad = *h;
  bad.prefetch_profile_offset = bad.journal_offset + 4096;
  const Status s = ValidateHeader(bad, InitialFileSize(bad));
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("prefetch_profile region"), std::string::npos) << s.message();
  bad = *h;
  bad.unit_of_prefetch_profile_entry_len = 0;
  EXPECT_NE(
      ValidateHeader(bad, InitialFileSize(bad)).message().find("unit_of_PrefetchProfileEntry_len"),
      std::string::npos);
}

// What an open needs, by hand: a 1 GiB base in 64 KiB blocks has 16384 bits, a 2 KiB bitmap
// (a 4 KiB region); a 2 GiB compact disk in 1 MiB chunks has 2048 entries, an 8 KiB table
// region decoded into 8 KiB; a 1 MiB journal.
TEST(MetadataMemoryTest, ComputedFromTheHeaderAlone) {
  Header h;
  h.base_img = "base.raw";
  h.all_data_in_fvd_img = false;
  h.base_img_size = kGiB;
  h.block_size = 64 * 1024;
  h.bitmap_size = 4096;
  h.virtual_disk_size = 2 * kGiB;
  h.compact_image = true;
  h.chunk_size = 1 << 20;
  h.journal_size = 1 << 20;
  h.metadata_size = 1 << 21;
  h.num_prefetch_slots = 3;
  h.bytes_per_prefetch = 100'000;  // rounded up to two 64 KiB blocks
  const MetadataMemory m = MetadataMemoryOf(h);
  EXPECT_EQ(m.bitmap, 4096u + 2 * 2048);
  EXPECT_EQ(m.table, 8192u + 2048 * 4);
  EXPECT_EQ(m.journal, 1u << 20);
  EXPECT_EQ(m.profile, 0u);
  EXPECT_EQ(m.prefetch, 3u * 131072);
  EXPECT_EQ(m.allocator, 0u);
  EXPECT_EQ(m.total(), 8192u + 16384 + (1 << 20) + 3 * 131072);
  // A 1 GiB data file past the 2 MiB of metadata holds 1022 chunks: 128 bytes of bits and 4088
  // of reusable ids.
  EXPECT_EQ(MetadataMemoryOf(h, kGiB).allocator, 128u + 1022 * 4);
  // A base whose data all moved in needs no bitmap and no prefetching.
  h.all_data_in_fvd_img = true;
  EXPECT_EQ(MetadataMemoryOf(h).bitmap, 0u);
  EXPECT_EQ(MetadataMemoryOf(h).prefetch, 0u);
}

TEST(MetadataMemoryTest, AHeaderClaimingTooMuchIsRefusedNamingTheCost) {
  Header h;
  h.base_img = "base.raw";
  h.all_data_in_fvd_img = false;
  h.base_img_size = 1 << 20;
  h.block_size = 512;
  h.bitmap_size = 64 * kGiB;  // claimed, whatever the base needs
  h.num_prefetch_slots = 2;
  h.bytes_per_prefetch = 1 << 20;
  const Status s = CheckMetadataMemory(h, kGiB);
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_EQ(s.message(),
            "opening the image needs 64 GiB of memory for its metadata (bitmap 64 GiB, table "
            "0 B, journal 0 B, profile 0 B, prefetch 2 MiB, allocator 0 B), more than the limit "
            "of 1 GiB (raise it to open the image)");
  EXPECT_TRUE(CheckMetadataMemory(h, 65 * kGiB).ok());
}

// Prefetch slots a header may claim: 2^31 - 1 buffers of 2 GiB - 512 bytes each.
TEST(MetadataMemoryTest, PrefetchSlotsAHeaderClaimsCount) {
  Header h;
  h.base_img = "base.raw";
  h.all_data_in_fvd_img = false;
  h.base_img_size = 1 << 20;
  h.block_size = 512;
  h.bitmap_size = 4096;
  h.num_prefetch_slots = INT32_MAX;
  h.bytes_per_prefetch = INT32_MAX - 511;
  EXPECT_EQ(MetadataMemoryOf(h).prefetch, uint64_t{INT32_MAX} * (INT32_MAX - 511));
  EXPECT_EQ(CheckMetadataMemory(h, kGiB).code(), StatusCode::kTooLarge);
}

TEST(MetadataMemoryTest, SizesNearTwoToTheSixtyFourSaturate) {
  Header h;
  h.base_img = "base.raw";
  h.all_data_in_fvd_img = false;
  h.base_img_size = UINT64_MAX;
  h.block_size = 512;
  h.bitmap_size = UINT64_MAX - 10;
  h.journal_size = UINT64_MAX / 2;
  EXPECT_EQ(MetadataMemoryOf(h).total(), UINT64_MAX);
  EXPECT_EQ(CheckMetadataMemory(h, UINT64_MAX - 1).code(), StatusCode::kTooLarge);
}

// One-sector chunks over a large data file: the chunk allocator's map alone is over the limit.
TEST(MetadataMemoryTest, OneSectorChunksOverALargeDataFileCountTheAllocator) {
  Header h;
  h.virtual_disk_size = 1 << 20;
  h.compact_image = true;
  h.chunk_size = 512;
  h.metadata_size = 1 << 20;
  const uint64_t data = (1 << 20) + 4 * kGiB;  // 2^23 chunks past the metadata
  const MetadataMemory m = MetadataMemoryOf(h, data);
  EXPECT_EQ(m.allocator, (uint64_t{1} << 20) + (uint64_t{1} << 25));
  EXPECT_EQ(CheckMetadataMemory(h, 32 << 20, data).code(), StatusCode::kTooLarge);
}

}  // namespace
}  // namespace fvd::format
