#include "sim/disk/page_map.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/util/prng.h"
#include "sim/disk/sector_token.h"

namespace fvd::sim {
namespace {

std::vector<std::byte> Sector(uint64_t token) {
  std::vector<std::byte> s(kTokenSectorBytes);
  FillTokenSector(token, s);
  return s;
}

TEST(SectorToken, RoundTripsAndRecognizesOnlyItsOwnForm) {
  EXPECT_EQ(TokenOf(Sector(0x1234)), 0x1234u);
  EXPECT_EQ(TokenOf(Sector(~0ull)), ~0ull);
  const std::vector<std::byte> zeros(kTokenSectorBytes);
  EXPECT_EQ(TokenOf(zeros), 0u);
  EXPECT_EQ(Sector(0), zeros);

  std::vector<std::byte> s = Sector(0x1234);
  EXPECT_EQ(s[0], std::byte{0x34});                      // little-endian token first
  EXPECT_EQ(s[kTokenSectorBytes - 8], std::byte{0xcb});  // ~token last
  s[200] = std::byte{1};                                 // a byte in the middle
  EXPECT_FALSE(TokenOf(s).has_value());
  s = Sector(0x1234);
  s[kTokenSectorBytes - 1] = std::byte{0};  // the tail does not match the token
  EXPECT_FALSE(TokenOf(s).has_value());
  std::vector<std::byte> only_tail(kTokenSectorBytes);
  only_tail[kTokenSectorBytes - 1] = std::byte{0xff};  // token 0 with a tail: not zeros
  EXPECT_FALSE(TokenOf(only_tail).has_value());
  std::vector<std::byte> random(kTokenSectorBytes);
  Prng p(7);
  for (auto& b : random) b = static_cast<std::byte>(p.NextU64());
  EXPECT_FALSE(TokenOf(random).has_value());
}

// Random writes of token sectors, random bytes and partial sectors, as bytes or as compact
// copies, against a flat byte array.
TEST(PageMap, MatchesAFlatArrayUnderRandomWrites) {
  constexpr uint64_t kBytes = 4 * PageMap::kPageBytes;
  std::vector<std::byte> model(kBytes);
  PageMap map;
  const PageMap::InitPage zeros = [](uint64_t, PageMap::Page&) {};
  Prng p(42);
  int as_tokens = 0;  // writes that went in as a compact copy's tokens
  for (int i = 0; i < 2000; ++i) {
    uint64_t offset = p.Below(kBytes);
    if (p.Below(2) == 0) offset -= offset % kTokenSectorBytes;  // sector-aligned
    uint64_t length = 1 + p.Below(std::min<uint64_t>(kBytes - offset, 3000));
    const uint64_t kind = p.Below(3);
    if (kind == 1 && p.Below(2) == 0 && length >= kTokenSectorBytes)
      length -= length % kTokenSectorBytes;  // whole sectors: a compact copy
    std::vector<std::byte> data(length);
    for (uint64_t k = 0; k < length; ++k) {
      if (kind == 0) data[k] = static_cast<std::byte>(p.NextU64());
    }
    if (kind == 1) {  // token sectors laid at the write's own sector alignment
      for (uint64_t k = 0; k + kTokenSectorBytes <= length; k += kTokenSectorBytes)
        FillTokenSector(p.NextU64(), std::span<std::byte>(data).subspan(k, kTokenSectorBytes));
    }
    std::copy(data.begin(), data.end(), model.begin() + static_cast<ptrdiff_t>(offset));
    if (p.Below(2) == 0) {
      map.Write(offset, data, nullptr, zeros);
    } else {  // through a CompactCopy: its tokens when it is compact and aligned, else bytes
      const CompactCopy copy(data);
      as_tokens += copy.compact() && offset % kTokenSectorBytes == 0;
      map.Write(offset, copy, nullptr, zeros);
    }
    if (p.Below(50) == 0) {
      const uint64_t size = p.Below(kBytes);
      map.Truncate(size);
      std::fill(model.begin() + static_cast<ptrdiff_t>(size), model.end(), std::byte{0});
    }
  }
  std::vector<std::byte> got(kBytes);
  ForEachPage(0, kBytes, [&](uint64_t index, uint64_t in_page, uint64_t at, uint64_t n) {
    const PageMap::Page* page = map.Find(index);
    if (page == nullptr) {
      std::fill_n(got.begin() + static_cast<ptrdiff_t>(at), n, std::byte{0});
    } else {
      page->Read(in_page, std::span<std::byte>(got).subspan(at, n));
    }
  });
  EXPECT_EQ(got, model);
  EXPECT_GT(as_tokens, 50);
}

TEST(PageMap, TokenSectorsHoldNoBytesAndAnOverlayCopiesItsBase) {
  PageMap durable;
  const PageMap::InitPage init = [](uint64_t, PageMap::Page& page) {
    for (unsigned k = 0; k < PageMap::kSectorsPerPage; ++k) page.SetToken(k, 100 + k);
  };
  std::vector<std::byte> raw(kTokenSectorBytes, std::byte{0x5a});
  durable.Write(kTokenSectorBytes, raw, nullptr, init);  // sector 1 as bytes; others from init
  ASSERT_NE(durable.Find(0), nullptr);
  EXPECT_TRUE(durable.Find(0)->HoldsBytes());
  std::vector<std::byte> got(kTokenSectorBytes);
  durable.Find(0)->Read(0, got);
  EXPECT_EQ(got, Sector(100));
  durable.Find(0)->Read(kTokenSectorBytes, got);
  EXPECT_EQ(got, raw);

  PageMap overlay;
  overlay.Write(2 * kTokenSectorBytes, Sector(7), &durable, init);
  overlay.Find(0)->Read(kTokenSectorBytes, got);
  EXPECT_EQ(got, raw);  // copied from the base page, not from init
  overlay.Find(0)->Read(2 * kTokenSectorBytes, got);
  EXPECT_EQ(got, Sector(7));

  durable.Write(kTokenSectorBytes, Sector(9), nullptr, init);
  EXPECT_FALSE(durable.Find(0)->HoldsBytes());  // the last byte sector became a token
  durable.Find(0)->Read(kTokenSectorBytes, got);
  EXPECT_EQ(got, Sector(9));
}

}  // namespace
}  // namespace fvd::sim
