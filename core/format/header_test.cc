#include "core/format/header.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/format/layout.h"
#include "core/format/profile_region.h"
#include "core/util/endian.h"

namespace fvd::format {
namespace {

Header SampleHeader() {
  CreateOptions o;
  o.virtual_size = 1ull << 30;
  o.base_img = "base.raw";
  o.base_img_length = 100ull << 20;
  o.compact_image = true;
  auto h = PlanImage(o);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  h->add_storage_cmd = "lvextend -L+100M /dev/vg/disk";
  h->journal_epoch = 7;
  return *h;
}

std::string ErrorOf(const Status& s) {
  return s.ToString();
}

TEST(HeaderTest, V2RoundTrip) {
  const Header h = SampleHeader();
  auto bytes = EncodeHeader(h);
  ASSERT_TRUE(bytes.ok());
  auto back = DecodeHeader(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, h);
}

// The offsets below are the v1 table of FVD-FORMAT.md, typed in from the spec, not taken from
// ForEachHeaderField: if the code's offsets drift, this fails.
TEST(HeaderTest, FieldsSitAtV1Offsets) {
  const Header h = SampleHeader();
  auto enc = EncodeHeader(h);
  ASSERT_TRUE(enc.ok());
  std::span<const std::byte> b(*enc);
  EXPECT_EQ(std::to_integer<int>(b[0]), 0xA9);
  EXPECT_EQ(std::to_integer<int>(b[1]), 0xF5);
  EXPECT_EQ(std::to_integer<int>(b[2]), 0x43);
  EXPECT_EQ(std::to_integer<int>(b[3]), 0x51);
  EXPECT_EQ(LoadLE32(b, 4), 2u);
  EXPECT_EQ(LoadLE32(b, 8), 0u);  // all_data_in_fvd_img: a base exists
  EXPECT_EQ(LoadLE64(b, 12), 1ull << 30);
  EXPECT_EQ(LoadLE64(b, 20), h.metadata_size);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data() + 28)), "base.raw");
  EXPECT_EQ(LoadLE64(b, 1068), 100ull << 20);
  EXPECT_EQ(LoadLE64(b, 1076), 8192u);
  EXPECT_EQ(LoadLE64(b, 1084), h.bitmap_size);
  EXPECT_EQ(LoadLE32(b, 1092), h.block_size);
  EXPECT_EQ(LoadLE64(b, 1100), 2000000u);
  EXPECT_EQ(LoadLE32(b, 2168), 2u);
  EXPECT_EQ(LoadLE32(b, 2184), 80u);
  EXPECT_EQ(LoadLE32(b, 2204), 30000u);
  EXPECT_EQ(LoadLE32(b, 2208), 1u);
  EXPECT_EQ(LoadLE64(b, 2212), h.table_offset);
  EXPECT_EQ(LoadLE64(b, 2220), 1u << 20);
  EXPECT_EQ(LoadLE64(b, 2228), 100u << 20);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data() + 2236)), h.add_storage_cmd);
  EXPECT_EQ(LoadLE64(b, 4284), h.journal_offset);
  EXPECT_EQ(LoadLE64(b, 4292), h.journal_size);
  EXPECT_EQ(LoadLE32(b, 4300), 1u);
  EXPECT_EQ(LoadLE32(b, 4312), 4096u);
  EXPECT_EQ(LoadLE32(b, 4316), 0xFFFFFFFFu);  // -1
  EXPECT_EQ(LoadLE64(b, 4336), 7u);           // v2: journal epoch
}

TEST(HeaderTest, DecodesV1WithoutChecksumOrV2Fields) {
  std::vector<std::byte> b(kHeaderFieldsSize);  // a v1 header may end at its last field
  StoreLE32(b, 0, kMagic);
  StoreLE32(b, 4, 1);
  StoreLE32(b, 8, 1);
  StoreLE64(b, 12, 4ull << 20);
  StoreLE64(b, 20, 8192);
  StoreLE32(b, 4300, 1);
  auto h = DecodeHeader(b);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->version, 1u);
  EXPECT_EQ(h->virtual_disk_size, 4ull << 20);
  EXPECT_TRUE(h->all_data_in_fvd_img);
  EXPECT_TRUE(h->clean_shutdown);
  EXPECT_EQ(h->journal_epoch, 0u);
  EXPECT_TRUE(ValidateHeader(*h, 8192).ok());
}

TEST(HeaderTest, V1PaddingIsNotReadAsV2Fields) {
  std::vector<std::byte> b(kHeaderRegionSize);
  StoreLE32(b, 0, kMagic);
  StoreLE32(b, 4, 1);
  StoreLE64(b, 12, 4ull << 20);
  StoreLE64(b, 20, 8192);
  StoreLE64(b, 4336, 99);          // where v2 keeps journal_epoch
  StoreLE32(b, 4364, 0x12345678);  // where v2 keeps self_contained (not a valid bool)
  auto h = DecodeHeader(b);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->journal_epoch, 0u);
  EXPECT_FALSE(h->self_contained);
}

TEST(HeaderTest, SelfContainedSitsAt4364AndMeansAllDataInImage) {
  Header h = SampleHeader();
  h.all_data_in_fvd_img = false;
  EXPECT_FALSE(h.all_data_in_image());
  h.self_contained = true;
  EXPECT_TRUE(h.all_data_in_image());
  auto b = EncodeHeader(h);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(LoadLE32(*b, 4364), 1u);
  EXPECT_EQ(LoadLE32(*b, 8), 0u);
  auto back = DecodeHeader(*b);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, h);
}

// open_image_fuzz found a header whose chunk size (about 1.07e19) exceeds its virtual size
// (about 7.8e18): rounding up wrapped around 2^64, so the table had no entries while reads of
// the disk indexed it. However large the fields, a non-empty compact disk has a table entry
// for every chunk it spans.
TEST(HeaderTest, TableEntriesCoverTheDiskForAnyChunkSize) {
  Header h = SampleHeader();
  h.compact_image = true;
  h.virtual_disk_size = 7840344498319130624u;
  h.chunk_size = 10664523917613350912u;
  EXPECT_EQ(h.table_entries(), 1u);
  h.chunk_size = h.virtual_disk_size - 512;
  EXPECT_EQ(h.table_entries(), 2u);
  h.virtual_disk_size = UINT64_MAX / 512 * 512;
  h.chunk_size = 512;
  EXPECT_EQ(h.table_entries(), UINT64_MAX / 512);
}

// The fields an open image changes (clean_shutdown, journal_epoch, self_contained, and so the
// checksum) all lie in one 512-byte sector: a run-time header write cannot tear.
TEST(HeaderTest, RunTimeChangesTouchOnlyTheRunTimeSector) {
  Header before = SampleHeader();
  before.all_data_in_fvd_img = false;
  Header after = before;
  after.clean_shutdown = !before.clean_shutdown;
  after.journal_epoch = before.journal_epoch + 0x0102030405ull;
  after.self_contained = true;
  auto a = EncodeHeader(before);
  auto b = EncodeHeader(after);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t sector = 0; sector < kHeaderRegionSize / 512; ++sector) {
    const bool same = std::equal(a->begin() + sector * 512, a->begin() + (sector + 1) * 512,
                                 b->begin() + sector * 512);
    EXPECT_EQ(same, sector != kHeaderRuntimeSector) << "sector " << sector;
  }
}

TEST(HeaderTest, BadMagicNamesFieldAndValue) {
  auto bytes = *EncodeHeader(SampleHeader());
  StoreLE32(bytes, 0, 0xDEADBEEF);
  const auto r = DecodeHeader(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(ErrorOf(r.status()).find("'magic' at offset 0"), std::string::npos);
  EXPECT_NE(ErrorOf(r.status()).find("0xdeadbeef"), std::string::npos);
}

TEST(HeaderTest, BadVersionNamesValue) {
  auto bytes = *EncodeHeader(SampleHeader());
  StoreLE32(bytes, 4, 3);
  const auto r = DecodeHeader(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(ErrorOf(r.status()).find("'version' at offset 4"), std::string::npos);
  EXPECT_NE(ErrorOf(r.status()).find("found 3"), std::string::npos);
}

TEST(HeaderTest, ChecksumMismatchOnAnyFlippedByte) {
  const auto good = *EncodeHeader(SampleHeader());
  for (size_t off : {8u, 1000u, 4335u, 5000u, 8191u}) {
    auto bytes = good;
    bytes[off] ^= std::byte{0x10};
    const auto r = DecodeHeader(bytes);
    ASSERT_FALSE(r.ok()) << off;
    EXPECT_NE(ErrorOf(r.status()).find("checksum mismatch"), std::string::npos) << off;
  }
}

TEST(HeaderTest, TruncatedFile) {
  const auto bytes = *EncodeHeader(SampleHeader());
  for (size_t len : {0u, 7u, 100u, 8191u}) {
    const auto r = DecodeHeader(std::span<const std::byte>(bytes).subspan(0, len));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_NE(ErrorOf(r.status()).find(std::to_string(len)), std::string::npos)
        << ErrorOf(r.status());
  }
}

TEST(HeaderTest, StringWithoutNulIsCorrupt) {
  Header h = SampleHeader();
  h.version = kVersion1;  // no checksum to fix up
  auto bytes = *EncodeHeader(h);
  for (size_t i = 28; i < 28 + kBaseImgLen; ++i) bytes[i] = std::byte{'a'};
  const auto r = DecodeHeader(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(ErrorOf(r.status()).find("'base_img' at offset 28"), std::string::npos);
}

TEST(HeaderTest, BooleanMustBeZeroOrOne) {
  Header h = SampleHeader();
  h.version = kVersion1;
  auto bytes = *EncodeHeader(h);
  StoreLE32(bytes, 1096, 2);
  const auto r = DecodeHeader(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(ErrorOf(r.status()).find("'copy_on_read' at offset 1096"), std::string::npos);
}

TEST(HeaderTest, UnknownIncompatibleFeatureRefused) {
  Header h = SampleHeader();
  h.incompatible_features = 1ull << 40;
  const auto r = DecodeHeader(*EncodeHeader(h));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(ErrorOf(r.status()).find("incompatible_features"), std::string::npos);
}

TEST(HeaderTest, EncodeRejectsTooLongString) {
  Header h = SampleHeader();
  h.base_img = std::string(kBaseImgLen, 'x');
  const auto r = EncodeHeader(h);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(ErrorOf(r.status()).find("'base_img'"), std::string::npos);
}

// ValidateHeader: one test per rule, each checking the message names the field and value.
struct BadLayout {
  const char* name;
  void (*mutate)(Header&);
  const char* expected_text;
};

class ValidateTest : public ::testing::TestWithParam<BadLayout> {};

TEST_P(ValidateTest, RejectsWithFieldAndValue) {
  Header h = SampleHeader();
  ASSERT_TRUE(ValidateHeader(h, h.metadata_size).ok());
  GetParam().mutate(h);
  const Status s = ValidateHeader(h, h.metadata_size + (1 << 20));
  ASSERT_FALSE(s.ok()) << GetParam().name;
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find(GetParam().expected_text), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(
    Layout, ValidateTest,
    ::testing::Values(
        BadLayout{"size", [](Header& h) { h.virtual_disk_size += 100; },
                  "'virtual_disk_size' = 1073741924 is not a multiple of 512"},
        BadLayout{"base_size", [](Header& h) { h.base_img_size = h.virtual_disk_size + 512; },
                  "'base_img_size' = 1073742336 exceeds"},
        BadLayout{"block", [](Header& h) { h.block_size = 1000; }, "'block_size' = 1000"},
        BadLayout{"bitmap_small", [](Header& h) { h.bitmap_size = 16; }, "'bitmap_size' = 16"},
        BadLayout{"chunk",
                  [](Header& h) {
                    h.chunk_size = 1536;
                    h.block_size = 1024;
                  },
                  "'chunk_size' = 1536 is not a multiple of block_size 1024"},
        BadLayout{"grow", [](Header& h) { h.storage_grow_unit = 4096; },
                  "'storage_grow_unit' = 4096"},
        BadLayout{"journal", [](Header& h) { h.journal_size = 1000; }, "'journal_size' = 1000"},
        BadLayout{"alpha", [](Header& h) { h.prefetch_perf_calc_alpha = 150; },
                  "'prefetch_perf_calc_alpha' = 150"},
        BadLayout{"slots",
                  [](Header& h) {
                    h.prefetch_start_delay = 5;
                    h.num_prefetch_slots = 0;
                  },
                  "'num_prefetch_slots' = 0"},
        BadLayout{"overlap", [](Header& h) { h.table_offset = h.bitmap_offset + 4096; },
                  "the bitmap region [8192, "},
        BadLayout{"inside_header", [](Header& h) { h.bitmap_offset = 4096; },
                  "the bitmap region [4096, "},
        BadLayout{"past_metadata", [](Header& h) { h.journal_offset = h.metadata_size; },
                  "the journal region"},
        BadLayout{"unaligned", [](Header& h) { h.journal_offset += 100; }, "'journal_offset' ="},
        BadLayout{"metadata_small", [](Header& h) { h.metadata_size = 4096; },
                  "'metadata_size' = 4096 is smaller than the 8192-byte header region"},
        BadLayout{"chunk_zero", [](Header& h) { h.chunk_size = 0; },
                  "'chunk_size' = 0 must be a non-zero multiple of 512"},
        BadLayout{"too_many_chunks",
                  [](Header& h) {
                    h.virtual_disk_size = 1ull << 50;
                    h.block_size = 512;
                    h.chunk_size = 512;
                  },
                  "chunks, more than a table holds"},
        BadLayout{"prefetch_bytes",
                  [](Header& h) {
                    h.prefetch_start_delay = 5;
                    h.num_prefetch_slots = 2;
                    h.bytes_per_prefetch = 1000;
                  },
                  "'bytes_per_prefetch' = 1000 must be a positive multiple of 512"},
        BadLayout{"profile_capacity",
                  [](Header& h) { h.prefetch_profile_entries = kMaxProfileCapacity + 1; },
                  "exceeds 4194304"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(HeaderTest, MetadataPastFileEndIsTruncation) {
  const Header h = SampleHeader();
  const Status s = ValidateHeader(h, h.metadata_size - 512);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("truncated"), std::string::npos);
  EXPECT_NE(s.message().find(std::to_string(h.metadata_size)), std::string::npos);
}

}  // namespace
}  // namespace fvd::format
