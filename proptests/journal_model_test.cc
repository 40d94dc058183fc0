// The harness's journal model against FORMAT.md's layout, and against the engine's encoder and
// decoder on the sectors both should agree on (a disagreement is a bug in one of them).
#include "proptests/journal_model.h"

#include <gtest/gtest.h>

#include "core/format/journal_sector.h"

namespace fvd::proptest {
namespace {

TEST(JournalModel, ReadsWhatItWritesAndWhatTheEngineWrites) {
  const JournalSector mine = ModelSector(7, 100, 8, 3, {42});
  EXPECT_TRUE(ModelAppliesSector(mine, 7));
  EXPECT_FALSE(ModelAppliesSector(mine, 6)) << "another epoch";
  EXPECT_EQ(ModelSectorEpoch(mine), 7u);
  // The engine reads the model's sector the same way, and the model reads the engine's.
  const auto engine = format::DecodeJournalSector(mine, format::JournalFormat::kV2, 7);
  EXPECT_EQ(engine.verdict, format::SectorVerdict::kValid);
  EXPECT_EQ(engine.records.size(), 2u);
  format::JournalSectorBuilder b(format::JournalFormat::kV2, 7);
  ASSERT_TRUE(b.AddBitmap({100, 8}));
  const uint32_t entry[] = {42};
  ASSERT_TRUE(b.AddTable(3, entry));
  const auto built = b.Finish();
  EXPECT_TRUE(ModelAppliesSector(built, 7));
  EXPECT_TRUE(std::equal(built.begin(), built.end(), mine.begin()));
}

TEST(JournalModel, RefusesWhatFormatMdSaysToRefuse) {
  JournalSector s = ModelSector(2, 0, 1, 0, {});
  JournalSector bad = s;
  bad[100] ^= std::byte{1};  // a flipped bit: the checksum no longer matches
  EXPECT_FALSE(ModelAppliesSector(bad, 2));
  bad = ModelSector(2, 0, 1, 0, {0x80000001u});  // a DIRTY entry: malformed, with a right CRC
  EXPECT_FALSE(ModelAppliesSector(bad, 2));
  bad = ModelSector(2, -5, 1, 0, {});  // a negative sector
  EXPECT_FALSE(ModelAppliesSector(bad, 2));
  EXPECT_FALSE(ModelAppliesSector(JournalSector{}, 0)) << "never written: no magic";
}

}  // namespace
}  // namespace fvd::proptest
