#include "core/util/units.h"

#include <gtest/gtest.h>

namespace fvd {
namespace {

TEST(UnitsTest, ParsesQemuStyleSizes) {
  EXPECT_EQ(*ParseByteSize("512"), 512u);
  EXPECT_EQ(*ParseByteSize("64k"), 64u * 1024);
  EXPECT_EQ(*ParseByteSize("64K"), 64u * 1024);
  EXPECT_EQ(*ParseByteSize("64M"), 64u << 20);
  EXPECT_EQ(*ParseByteSize("10G"), 10ull << 30);
  EXPECT_EQ(*ParseByteSize("1T"), 1ull << 40);
  EXPECT_EQ(*ParseByteSize("4KiB"), 4096u);
  EXPECT_EQ(*ParseByteSize("1.5G"), 3ull << 29);
  EXPECT_EQ(*ParseByteSize("2 MiB"), 2u << 20);
}

TEST(UnitsTest, RejectsBadSizesWithTheText) {
  for (const char* bad : {"", "abc", "12X", "-5", "1.2.3", "0.3k", "20E"}) {
    const auto r = ParseByteSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << r.status().message();
  }
}

TEST(UnitsTest, FormatsSizes) {
  EXPECT_EQ(FormatByteSize(512), "512 B");
  EXPECT_EQ(FormatByteSize(1 << 30), "1 GiB");
  EXPECT_EQ(FormatByteSize(3ull << 29), "1.5 GiB");
}

TEST(UnitsTest, Rounding) {
  EXPECT_EQ(RoundUp(1, 512), 512u);
  EXPECT_EQ(RoundUp(512, 512), 512u);
  EXPECT_EQ(DivRoundUp(513, 512), 2u);
  EXPECT_EQ(DivRoundUp(0, 512), 0u);
  // No wrap-around near 2^64 (found by open_image_fuzz: a header's chunk size).
  EXPECT_EQ(DivRoundUp(UINT64_MAX, 2), uint64_t{1} << 63);
  EXPECT_EQ(DivRoundUp(7840344498319130624u, 10664523917613350912u), 1u);
  EXPECT_EQ(DivRoundUp(UINT64_MAX, UINT64_MAX), 1u);
  EXPECT_EQ(RoundUp(4096, UINT64_MAX - 511), UINT64_MAX - 511);  // a block size near 2^64
  EXPECT_EQ(RoundUp(0, 512), 0u);
  EXPECT_TRUE(IsPowerOfTwo(4096));
  EXPECT_FALSE(IsPowerOfTwo(0));
  EXPECT_FALSE(IsPowerOfTwo(1536));
}

}  // namespace
}  // namespace fvd
