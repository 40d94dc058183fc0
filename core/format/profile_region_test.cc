#include "core/format/profile_region.h"

#include <gtest/gtest.h>

#include "core/util/crc32c.h"
#include "core/util/endian.h"

namespace fvd::format {
namespace {

constexpr uint64_t kBase = 1 << 20;  // a 1 MiB base

TEST(ProfileRegionTest, SizeHoldsTheHeaderSectorAndEveryEntryIn4KiBUnits) {
  EXPECT_EQ(ProfileRegionSize(0), 4096u);
  EXPECT_EQ(ProfileRegionSize(298), 4096u);  // 512 + 298 * 12 = 4088
  EXPECT_EQ(ProfileRegionSize(299), 8192u);  // 4100
}

TEST(ProfileRegionTest, EntriesRoundTripWithLengthsInWholeUnits) {
  const std::vector<ProfileEntry> in{{8192, 4096}, {0, 512}, {65536, 12288}};
  const IoBuffer region = EncodeProfileRegion(in, 16, 4096);
  ASSERT_EQ(region.size(), 4096u);
  // The layout FORMAT.md gives: magic, count, then 12-byte entries from byte 512.
  EXPECT_EQ(LoadLE32(region, 0), 0x50445646u);
  EXPECT_EQ(LoadLE64(region, 8), 3u);
  EXPECT_EQ(LoadLE64(region, 512 + 12), 0u);
  EXPECT_EQ(LoadLE32(region, 512 + 12 + 8), 1u);  // 512 bytes rounds up to one 4096 unit
  auto out = DecodeProfileRegion(region, 16, 4096, kBase);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const std::vector<ProfileEntry> want{{8192, 4096}, {0, 4096}, {65536, 12288}};
  EXPECT_EQ(*out, want);
}

TEST(ProfileRegionTest, EncodingKeepsAtMostTheCapacity) {
  std::vector<ProfileEntry> in;
  for (uint64_t i = 0; i < 10; ++i) in.push_back({i * 4096, 4096});
  auto out = DecodeProfileRegion(EncodeProfileRegion(in, 4, 4096), 4, 4096, kBase);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 4u);
  EXPECT_EQ(out->back().offset, 3 * 4096u);
}

TEST(ProfileRegionTest, LengthsAreClippedToTheBase) {
  const std::vector<ProfileEntry> last{{kBase - 512, 512}};
  auto out = DecodeProfileRegion(EncodeProfileRegion(last, 4, 4096), 4, 4096, kBase);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->at(0).length, 512u);
}

TEST(ProfileRegionTest, ARegionNeverWrittenHoldsNoProfile) {
  const IoBuffer zeros(4096, std::byte{0});
  auto out = DecodeProfileRegion(zeros, 16, 4096, kBase);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
}

TEST(ProfileRegionTest, DamageIsAnErrorNamingWhere) {
  const std::vector<ProfileEntry> two{{4096, 4096}, {8192, 4096}};
  const IoBuffer good = EncodeProfileRegion(two, 16, 4096);
  IoBuffer torn = good;
  torn[512 + 12] = std::byte{1};  // the second entry's offset changed after the checksum
  auto out = DecodeProfileRegion(torn, 16, 4096, kBase);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kCorruption);
  EXPECT_NE(out.status().message().find("checksum mismatch (byte 16"), std::string::npos)
      << out.status().message();

  out = DecodeProfileRegion(good, 1, 4096, kBase);  // a header that says fewer fit
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("count 2 (byte 8 of the region) exceeds its capacity of 1"),
            std::string::npos)
      << out.status().message();

  out = DecodeProfileRegion(good, 16, 4096, 8192);  // a base smaller than the profile says
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("entry 1 (byte 524 of the region) starts past the base"),
            std::string::npos)
      << out.status().message();
}

TEST(ProfileRegionTest, AnEmptyEntryWithAValidChecksumIsStillRejected) {
  const std::vector<ProfileEntry> one{{4096, 4096}};
  IoBuffer region = EncodeProfileRegion(one, 16, 4096);
  StoreLE32(region, 512 + 8, 0);  // length 0 units, then a checksum that matches
  const uint32_t crc =
      Crc32cExtend(Crc32c(std::span(region).subspan(0, 16)), std::span(region).subspan(512, 12));
  StoreLE32(region, 16, crc);
  auto out = DecodeProfileRegion(region, 16, 4096, kBase);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("entry 0 (byte 512 of the region) is empty"),
            std::string::npos)
      << out.status().message();
}

}  // namespace
}  // namespace fvd::format
