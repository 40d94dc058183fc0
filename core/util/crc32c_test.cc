#include "core/util/crc32c.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace fvd {
namespace {

std::span<const std::byte> Bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// Check values from RFC 3720 (iSCSI) appendix B.4 and the CRC catalogue's CRC-32/ISCSI entry.
TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c({}), 0u);
  std::vector<std::byte> zeros(32, std::byte{0});
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  std::vector<std::byte> ones(32, std::byte{0xFF});
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string_view text = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(Crc32cExtend(Crc32c(Bytes(text.substr(0, cut))), Bytes(text.substr(cut))),
              Crc32c(Bytes(text)));
  }
}

}  // namespace
}  // namespace fvd
