// Journal sector encoding: a checklist in the manner of LevelDB's log_test.
#include "core/format/journal_sector.h"

#include <gtest/gtest.h>

#include <numeric>

#include "core/util/endian.h"

namespace fvd::format {
namespace {

std::vector<uint32_t> Ids(size_t n, uint32_t first = 100) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

JournalSectorBytes SampleV2(uint64_t epoch) {
  JournalSectorBuilder b(JournalFormat::kV2, epoch);
  EXPECT_TRUE(b.AddTable(10, Ids(3)));
  EXPECT_TRUE(b.AddBitmap({2048, 2048}));
  return b.Finish();
}

TEST(JournalSectorTest, V2RoundTrip) {
  const auto s = SampleV2(4);
  const auto d = DecodeJournalSector(s, JournalFormat::kV2, 4);
  ASSERT_EQ(d.verdict, SectorVerdict::kValid) << d.problem;
  ASSERT_EQ(d.records.size(), 2u);
  EXPECT_EQ(std::get<TableRecord>(d.records[0]), (TableRecord{10, Ids(3)}));
  EXPECT_EQ(std::get<BitmapRecord>(d.records[1]), (BitmapRecord{2048, 2048}));
}

TEST(JournalSectorTest, V2LayoutMagicEpochChecksum) {
  const auto s = SampleV2(9);
  EXPECT_EQ(LoadLE32(s, 0), kJournalSectorMagic);
  EXPECT_EQ(LoadLE64(s, 8), 9u);
  EXPECT_EQ(LoadLE32(s, 16), kTableRecordType);  // records start after the 16-byte header
}

TEST(JournalSectorTest, ChecksumMismatchOnEveryByte) {
  const auto good = SampleV2(1);
  for (size_t i = 0; i < kSectorSize; ++i) {
    auto s = good;
    s[i] ^= std::byte{0x01};
    const auto d = DecodeJournalSector(s, JournalFormat::kV2, 1);
    if (i < 4) {
      EXPECT_EQ(d.verdict, SectorVerdict::kNoMagic) << i;
    } else {
      EXPECT_EQ(d.verdict, SectorVerdict::kBadChecksum) << i;
    }
    EXPECT_TRUE(d.records.empty());
  }
}

TEST(JournalSectorTest, TornSectorIsSkipped) {
  // Half new, half old (zeros): what a torn 512-byte write would leave if sectors were smaller.
  auto s = SampleV2(1);
  std::fill(s.begin() + 256, s.end(), std::byte{0});
  EXPECT_EQ(DecodeJournalSector(s, JournalFormat::kV2, 1).verdict, SectorVerdict::kBadChecksum);
}

TEST(JournalSectorTest, NeverWrittenSectorHasNoMagic) {
  const JournalSectorBytes zero{};
  const auto d = DecodeJournalSector(zero, JournalFormat::kV2, 0);
  EXPECT_EQ(d.verdict, SectorVerdict::kNoMagic);
}

TEST(JournalSectorTest, OlderEpochIsIgnored) {
  const auto d = DecodeJournalSector(SampleV2(3), JournalFormat::kV2, 4);
  EXPECT_EQ(d.verdict, SectorVerdict::kOtherEpoch);
  EXPECT_TRUE(d.records.empty());
  EXPECT_NE(d.problem.find("epoch 3"), std::string::npos);
}

// v1 capacities are quoted by FVD-FORMAT.md: 125 entries alone, 121 with a bitmap record.
TEST(JournalSectorTest, V1Capacity) {
  JournalSectorBuilder b(JournalFormat::kV1, 0);
  EXPECT_EQ(b.TableEntriesThatFit(false), 125u);
  EXPECT_EQ(b.TableEntriesThatFit(true), 121u);
  EXPECT_FALSE(b.AddTable(0, Ids(126)));
  EXPECT_TRUE(b.AddTable(0, Ids(125)));
  EXPECT_FALSE(b.AddBitmap({0, 1}));
}

// v2 gives 20 bytes to magic, flags, epoch and checksum: 492 payload bytes.
TEST(JournalSectorTest, V2Capacity) {
  JournalSectorBuilder b(JournalFormat::kV2, 0);
  EXPECT_EQ(b.TableEntriesThatFit(false), 120u);
  EXPECT_EQ(b.TableEntriesThatFit(true), 116u);
  EXPECT_TRUE(b.AddBitmap({0, 8}));
  EXPECT_TRUE(b.AddTable(0, Ids(116)));
  EXPECT_EQ(b.TableEntriesThatFit(false), 0u);
  EXPECT_FALSE(b.AddBitmap({0, 8}));
}

TEST(JournalSectorTest, V1ParsingStopsAtZeroType) {
  JournalSectorBytes s{};
  StoreLE32(s, 0, kBitmapRecordType);
  StoreLE32(s, 4, 16);
  StoreLE64(s, 8, 64);
  StoreLE32(s, 16, 0);                  // end of records
  StoreLE32(s, 20, kBitmapRecordType);  // ignored: after the end
  const auto d = DecodeJournalSector(s, JournalFormat::kV1, 0);
  ASSERT_EQ(d.verdict, SectorVerdict::kValid);
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(std::get<BitmapRecord>(d.records[0]), (BitmapRecord{64, 16}));
}

TEST(JournalSectorTest, UnknownRecordTypeIsMalformed) {
  JournalSectorBytes s{};
  StoreLE32(s, 0, 0x12345678);
  const auto d = DecodeJournalSector(s, JournalFormat::kV1, 0);
  EXPECT_EQ(d.verdict, SectorVerdict::kMalformed);
  EXPECT_NE(d.problem.find("0x12345678"), std::string::npos);
}

TEST(JournalSectorTest, TableRecordPastSectorEndIsMalformed) {
  JournalSectorBytes s{};
  StoreLE32(s, 0, kTableRecordType);
  StoreLE32(s, 4, 0);
  StoreLE32(s, 8, 126);  // 12 + 126 * 4 > 512
  const auto d = DecodeJournalSector(s, JournalFormat::kV1, 0);
  EXPECT_EQ(d.verdict, SectorVerdict::kMalformed);
  EXPECT_NE(d.problem.find("126 entries"), std::string::npos);
}

TEST(JournalSectorTest, DirtyEntryInRecordIsMalformed) {
  JournalSectorBytes s{};
  StoreLE32(s, 0, kTableRecordType);
  StoreLE32(s, 4, 0);
  StoreLE32(s, 8, 1);
  StoreLE32(s, 12, 5 | kDirtyChunk);
  EXPECT_EQ(DecodeJournalSector(s, JournalFormat::kV1, 0).verdict, SectorVerdict::kMalformed);
}

// A record whose fixed part starts in the last bytes of a v1 sector: a bitmap record needs 16
// bytes, a table record's header 12.
TEST(JournalSectorTest, RecordHeadersPastSectorEndAreMalformed) {
  JournalSectorBytes s{};
  StoreLE32(s, 504, kBitmapRecordType);  // 8 bytes left
  std::fill(s.begin(), s.begin() + 504, std::byte{0});
  // Records before it: one table record filling [0, 504) (12 + 123 * 4 = 504 bytes).
  StoreLE32(s, 0, kTableRecordType);
  StoreLE32(s, 4, 0);
  StoreLE32(s, 8, 123);
  for (uint32_t i = 0; i < 123; ++i) StoreLE32(s, 12 + 4 * i, i);
  auto d = DecodeJournalSector(s, JournalFormat::kV1, 0);
  EXPECT_EQ(d.verdict, SectorVerdict::kMalformed);
  EXPECT_NE(d.problem.find("bitmap record at payload byte 504 runs past the sector"),
            std::string::npos)
      << d.problem;
  StoreLE32(s, 504, kTableRecordType);
  d = DecodeJournalSector(s, JournalFormat::kV1, 0);
  EXPECT_EQ(d.verdict, SectorVerdict::kMalformed);
  EXPECT_NE(d.problem.find("table record at payload byte 504 runs past the sector"),
            std::string::npos)
      << d.problem;
}

TEST(JournalSectorTest, VerdictsHaveNames) {
  EXPECT_STREQ(SectorVerdictName(SectorVerdict::kValid), "valid");
  EXPECT_STREQ(SectorVerdictName(SectorVerdict::kNoMagic), "no magic");
  EXPECT_STREQ(SectorVerdictName(SectorVerdict::kBadChecksum), "bad checksum");
  EXPECT_STREQ(SectorVerdictName(SectorVerdict::kOtherEpoch), "other epoch");
  EXPECT_STREQ(SectorVerdictName(SectorVerdict::kMalformed), "malformed");
}

TEST(JournalSectorTest, NegativeBitmapStartIsMalformed) {
  JournalSectorBytes s{};
  StoreLE32(s, 0, kBitmapRecordType);
  StoreLE32(s, 4, 1);
  StoreLE64(s, 8, static_cast<uint64_t>(-8));
  EXPECT_EQ(DecodeJournalSector(s, JournalFormat::kV1, 0).verdict, SectorVerdict::kMalformed);
}

}  // namespace
}  // namespace fvd::format
