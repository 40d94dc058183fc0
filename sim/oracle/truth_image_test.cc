// The oracle on its own: which values a sector may hold after a crash, and what reads must return.
#include "sim/oracle/truth_image.h"

#include <gtest/gtest.h>

#include <vector>

#include "sim/disk/initial_content.h"
#include "sim/disk/sector_token.h"

namespace fvd::sim {
namespace {

constexpr uint64_t kSector = 512;

// One sector of bytes all equal to `fill`, and its hash.
std::vector<std::byte> Bytes(uint8_t fill) {
  return std::vector<std::byte>(kSector, std::byte{fill});
}
uint64_t Hash(uint8_t fill) {
  return SectorHash(Bytes(fill));
}

TruthImage Oracle() {
  return TruthImage([](uint64_t) { return Hash(0); });
}

std::vector<std::byte> TokenSector(uint64_t token) {
  std::vector<std::byte> sector(kSector);
  FillTokenSector(token, sector);
  return sector;
}

TEST(SectorHash, ATokenSectorIsWorthItsTokenAndAnyOtherByteChangesIt) {
  const uint64_t token = 0x0123456789abcdefull;
  EXPECT_EQ(SectorHash(TokenSector(token)), token);
  EXPECT_EQ(SectorHash(Bytes(0)), 0u);  // the zero sector is token 0
  // Every byte counts: a change anywhere, the middle's zeros included, is another value.
  for (size_t at :
       {size_t{0}, size_t{7}, size_t{8}, size_t{255}, size_t{503}, size_t{504}, size_t{511}}) {
    std::vector<std::byte> changed = TokenSector(token);
    changed[at] ^= std::byte{0x40};
    EXPECT_NE(SectorHash(changed), token) << "byte " << at;
    EXPECT_NE(SectorHash(changed), SectorHash(Bytes(0))) << "byte " << at;
  }
  // Two different non-token sectors differ; the same bytes give the same value.
  EXPECT_NE(Hash(1), Hash(2));
  EXPECT_EQ(Hash(1), Hash(1));
}

TEST(SectorHash, ABaseSectorIsWorthItsInitialToken) {
  std::vector<std::byte> sector(kSector);
  for (uint64_t s : {0u, 1u, 77u, 2047u}) {
    FillInitialSector(42, 1 << 20, s, sector);
    EXPECT_EQ(SectorHash(sector), InitialToken(42, 1 << 20, s));
    EXPECT_NE(InitialToken(42, 1 << 20, s), 0u);
  }
  EXPECT_EQ(InitialToken(42, 1 << 20, (1 << 20) / kSector), 0u);  // past the nonzero bytes
}

TEST(TruthImage, AReadOfATokenSectorWithOneByteWrongIsCaught) {
  TruthImage o = Oracle();
  o.WriteCompleted(o.WriteSubmitted(0, TokenSector(99)));
  std::vector<std::byte> wrong = TokenSector(99);
  wrong[300] = std::byte{1};
  std::vector<std::string> violations;
  o.CheckRead(0, std::vector<uint64_t>{SectorHash(wrong)}, violations);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_NE(violations[0].find(kReadNeverWritten), std::string::npos) << violations[0];
  violations.clear();
  o.CheckRead(0, std::vector<uint64_t>{SectorHash(TokenSector(99))}, violations);
  EXPECT_TRUE(violations.empty());
}

TEST(TruthImage, AfterACrashASectorMayHoldItsFlushedValueOrAnyWrittenSince) {
  // 1 written and flushed, 2 written and completed, 3 in flight: then the crash.
  auto crashed = [] {
    TruthImage o = Oracle();
    o.WriteCompleted(o.WriteSubmitted(0, Bytes(1)));
    o.FlushCompleted(o.FlushSubmitted());
    o.WriteCompleted(o.WriteSubmitted(0, Bytes(2)));
    o.WriteSubmitted(0, Bytes(3));
    EXPECT_FALSE(o.Quiet(0, 1));
    return o;
  };
  std::vector<std::string> violations;
  for (uint8_t v : {1, 2, 3}) crashed().Recovered(0, Hash(v), violations);
  EXPECT_TRUE(violations.empty());
  TruthImage lost = crashed();
  lost.Recovered(0, Hash(0), violations);  // the value before the flush: lost data
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_NE(violations[0].find("never written"), std::string::npos) << violations[0];
  lost.Recovered(0, Hash(9), violations);  // after recovery, only the recovered value is allowed
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_NE(violations[1].find("flushed data lost"), std::string::npos) << violations[1];
  lost.CrashDone();
  EXPECT_EQ(lost.values_kept(), 0u);
}

TEST(TruthImage, ReadsAndTheFinalCheckWantTheLatestCompletedValue) {
  for (bool no_crashes : {false, true}) {
    TruthImage o = Oracle();
    if (no_crashes) o.SetNoCrashes();
    o.WriteCompleted(o.WriteSubmitted(0, Bytes(1)));
    o.WriteCompleted(o.WriteSubmitted(0, Bytes(2)));
    o.WriteCompleted(o.WriteSubmitted(kSector, Bytes(3)));
    ASSERT_TRUE(o.Quiet(0, 2));
    std::vector<std::string> violations;
    o.CheckRead(0, std::vector<uint64_t>{Hash(2), Hash(3)}, violations);
    o.Final(0, Hash(2), violations);
    o.CheckRead(2, std::vector<uint64_t>{Hash(0)}, violations);  // never written
    EXPECT_TRUE(violations.empty()) << no_crashes;
    o.CheckRead(0, std::vector<uint64_t>{Hash(1)}, violations);  // an older value
    o.Final(1, Hash(0), violations);
    EXPECT_EQ(violations.size(), 2u) << no_crashes;
    const uint64_t flush = o.FlushSubmitted();
    o.FlushCompleted(flush);
    o.WriteCompleted(o.WriteSubmitted(0, Bytes(4)));
    o.Final(0, Hash(4), violations);
    EXPECT_EQ(violations.size(), 2u) << no_crashes;
  }
}

// A writer that built its data from token sectors gives the tokens; reads are then checked
// against them as if the oracle had hashed the bytes.
TEST(TruthImage, AWriteGivenAsValuesIsCheckedLikeItsBytes) {
  for (bool no_crashes : {false, true}) {
    TruthImage o = Oracle();
    if (no_crashes) o.SetNoCrashes();
    const std::vector<uint64_t> tokens{11, 12, 13};
    o.WriteCompleted(o.WriteSubmittedValues(kSector, tokens));
    std::vector<std::string> violations;
    std::vector<uint64_t> read;
    for (uint64_t t : tokens) read.push_back(SectorHash(TokenSector(t)));
    o.CheckRead(1, read, violations);
    EXPECT_TRUE(violations.empty()) << no_crashes;
    read[1] = SectorHash(TokenSector(99));  // the middle sector read back wrong
    o.CheckRead(1, read, violations);
    EXPECT_EQ(violations.size(), 1u) << no_crashes;
  }
}

TEST(TruthImage, WithoutCrashesOnlyTheLatestValueIsKept) {
  for (bool no_crashes : {false, true}) {
    TruthImage o = Oracle();
    if (no_crashes) o.SetNoCrashes();
    for (int i = 0; i < 100; ++i) o.WriteCompleted(o.WriteSubmitted(0, Bytes(uint8_t(i))));
    const uint64_t last = o.WriteSubmitted(0, Bytes(200));  // in flight
    EXPECT_EQ(o.values_kept(), no_crashes ? 1u : 101u);
    o.WriteCompleted(last);
    EXPECT_EQ(o.values_kept(), no_crashes ? 0u : 101u);
    std::vector<std::string> violations;
    o.Final(0, Hash(200), violations);
    EXPECT_TRUE(violations.empty());
  }
}

TEST(TruthImage, WrittenRunsAreSortedAndCapped) {
  TruthImage o = Oracle();
  std::vector<std::byte> five(5 * kSector, std::byte{7});
  o.WriteSubmitted(10 * kSector, five);
  o.WriteSubmitted(2 * kSector, Bytes(1));
  const auto runs = o.WrittenRuns(4);
  const std::vector<std::pair<uint64_t, uint64_t>> want{{2, 1}, {10, 4}, {14, 1}};
  EXPECT_EQ(runs, want);
}

}  // namespace
}  // namespace fvd::sim
