#include "core/format/bitmap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace fvd::format {
namespace {

TEST(BitmapTest, LsbFirstBitOrder) {
  Bitmap bm(20);
  bm.Set(0);
  bm.Set(9);
  bm.Set(15);
  std::vector<std::byte> out(3);
  bm.Encode(out);
  EXPECT_EQ(out[0], std::byte{0x01});  // bit 0 is the least significant bit of byte 0
  EXPECT_EQ(out[1], std::byte{0x82});  // bits 9 and 15: 0b1000'0010
  EXPECT_EQ(out[2], std::byte{0x00});
}

TEST(BitmapTest, DecodeReadsLsbFirstAndMasksTail) {
  const std::vector<std::byte> in = {std::byte{0x05}, std::byte{0xFF}};
  auto bm = Bitmap::Decode(in, 12);
  ASSERT_TRUE(bm.ok());
  EXPECT_TRUE(bm->Test(0));
  EXPECT_FALSE(bm->Test(1));
  EXPECT_TRUE(bm->Test(2));
  EXPECT_TRUE(bm->Test(11));
  EXPECT_EQ(bm->CountSet(), 2u + 4u);  // bits 12..15 of 0xFF are past the end: masked
}

// Found by metadata_fuzz: an empty bitmap has no storage, and copying into it was undefined
// behaviour (memcpy of a null pointer), caught by UBSan.
TEST(BitmapTest, EmptyBitmapDecodesAndEncodes) {
  const std::vector<std::byte> none;
  const std::vector<std::byte> some(16, std::byte{0xff});
  for (const auto& bytes : {none, some}) {
    auto bm = Bitmap::Decode(bytes, 0);
    ASSERT_TRUE(bm.ok());
    EXPECT_EQ(bm->bits(), 0u);
    std::vector<std::byte> out(bytes.size(), std::byte{0x11});
    bm->Encode(out);
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::byte b) { return b == std::byte{0}; }));
  }
}

TEST(BitmapTest, DecodeTooShort) {
  const std::vector<std::byte> in(2);
  const auto bm = Bitmap::Decode(in, 17);
  ASSERT_FALSE(bm.ok());
  EXPECT_NE(bm.status().message().find("17 bits needs 3 bytes, found 2"), std::string::npos);
}

TEST(BitmapTest, RangesAgreeWithSingleBits) {
  for (uint64_t first = 0; first < 20; ++first) {
    for (uint64_t count = 0; first + count <= 40; ++count) {
      Bitmap bm(40);
      bm.SetRange(first, count);
      for (uint64_t b = 0; b < 40; ++b) {
        ASSERT_EQ(bm.Test(b), b >= first && b < first + count) << first << "+" << count;
      }
      EXPECT_TRUE(bm.AllSet(first, count));
      EXPECT_EQ(bm.CountSet(), count);
      if (first > 0) {
        EXPECT_FALSE(bm.AllSet(first - 1, count + 1));
      }
      EXPECT_TRUE(bm.NoneSet(first + count, 40 - first - count));
      if (count > 0) {
        EXPECT_FALSE(bm.NoneSet(0, 40));
      }
    }
  }
}

// The three parts of a range (bits before a byte boundary, whole bytes, bits after): a set bit
// in any one of them answers for the range.
TEST(BitmapTest, NoneSetLooksAtTheUnalignedHeadWholeBytesAndTail) {
  for (const uint64_t set : {3u, 20u, 41u}) {
    Bitmap bm(64);
    bm.SetRange(set, 1);
    EXPECT_FALSE(bm.NoneSet(1, 43)) << "bit " << set;  // [1, 44): head 1-7, bytes 8-39, tail
    EXPECT_TRUE(bm.NoneSet(set + 1, 64 - set - 1)) << "bit " << set;
  }
}

TEST(BitmapTest, MergeIsUnion) {
  Bitmap a(16), b(16);
  a.Set(1);
  b.Set(14);
  a.Merge(b);
  EXPECT_TRUE(a.Test(1));
  EXPECT_TRUE(a.Test(14));
  EXPECT_EQ(a.CountSet(), 2u);
}

}  // namespace
}  // namespace fvd::format
