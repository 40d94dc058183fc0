#include "tools/fvd-img/io_script.h"

#include <gtest/gtest.h>

namespace fvd::img {
namespace {

using Kind = IoCommand::Kind;

IoCommand Parse(std::string_view text) {
  auto c = ParseIoCommand(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status().ToString();
  return c.ok() ? *c : IoCommand{};
}

// The message of the error parsing `text` gives (empty when it parses).
std::string ErrorOf(std::string_view text) {
  auto c = ParseIoCommand(text);
  return c.ok() ? "" : c.status().message();
}

::testing::AssertionResult Contains(const std::string& haystack, std::string_view needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << haystack << "' lacks '" << needle << "'";
}

TEST(IoScriptTest, WriteDefaultsToQemuIoPattern) {
  const IoCommand c = Parse("write 0 4k");
  EXPECT_EQ(c.kind, Kind::kWrite);
  EXPECT_EQ(c.offset, 0u);
  EXPECT_EQ(c.length, 4096u);
  EXPECT_EQ(c.pattern, 0xcd);
  EXPECT_FALSE(c.zero);
  EXPECT_EQ(c.text, "write 0 4k");
}

TEST(IoScriptTest, WritePatternDecimalHexAttachedAndSeparate) {
  EXPECT_EQ(Parse("write -P 7 512 512").pattern, 7);
  EXPECT_EQ(Parse("write -P 0xab 512 512").pattern, 0xab);
  EXPECT_EQ(Parse("write -P 0XFF 512 512").pattern, 0xff);
  EXPECT_EQ(Parse("write -P255 512 512").pattern, 255);
  EXPECT_EQ(Parse("write -P0x10 512 512").pattern, 0x10);
  EXPECT_EQ(Parse("write -P 0 512 512").pattern, 0);
  // Options may follow the numbers, as getopt allows.
  const IoCommand late = Parse("write 1M 64k -P 3");
  EXPECT_EQ(late.pattern, 3);
  EXPECT_EQ(late.offset, 1u << 20);
  EXPECT_EQ(late.length, 64u << 10);
}

TEST(IoScriptTest, WriteZeros) {
  const IoCommand c = Parse("write -z 1k 1536");
  EXPECT_TRUE(c.zero);
  EXPECT_EQ(c.pattern, 0);
  EXPECT_EQ(c.offset, 1024u);
  EXPECT_EQ(c.length, 1536u);
}

TEST(IoScriptTest, ReadPlainVerifyAndDump) {
  const IoCommand plain = Parse("read 0 512");
  EXPECT_EQ(plain.kind, Kind::kRead);
  EXPECT_FALSE(plain.verify);
  EXPECT_FALSE(plain.dump);
  const IoCommand verify = Parse("read -P 0x5a 2G 1M");
  EXPECT_TRUE(verify.verify);
  EXPECT_EQ(verify.pattern, 0x5a);
  EXPECT_EQ(verify.offset, 2ull << 30);
  EXPECT_EQ(verify.length, 1u << 20);
  const IoCommand dump = Parse("  read   -v -P 9  4KiB 8K ");
  EXPECT_TRUE(dump.dump);
  EXPECT_TRUE(dump.verify);
  EXPECT_EQ(dump.pattern, 9);
  EXPECT_EQ(dump.offset, 4096u);
  EXPECT_EQ(dump.length, 8192u);
}

TEST(IoScriptTest, Flush) {
  EXPECT_EQ(Parse("flush").kind, Kind::kFlush);
  EXPECT_EQ(Parse(" flush ").kind, Kind::kFlush);
}

TEST(IoScriptTest, CommandErrors) {
  EXPECT_TRUE(Contains(ErrorOf(""), "empty command"));
  EXPECT_TRUE(Contains(ErrorOf("   "), "empty command"));
  EXPECT_TRUE(Contains(ErrorOf("wrtie 0 4k"), "unknown command 'wrtie' (read, write, flush)"));
  EXPECT_TRUE(Contains(ErrorOf("flush 0"), "flush takes no arguments"));
  EXPECT_TRUE(Contains(ErrorOf("flush -P 1"), "unknown option '-P'"));
  EXPECT_TRUE(Contains(ErrorOf("write 0"), "expected OFFSET LENGTH, got 1 argument"));
  EXPECT_TRUE(Contains(ErrorOf("read"), "expected OFFSET LENGTH, got 0 arguments"));
  EXPECT_TRUE(Contains(ErrorOf("read 0 512 512"), "got 3 arguments"));
}

TEST(IoScriptTest, OptionErrors) {
  EXPECT_TRUE(Contains(ErrorOf("write -v 0 512"), "unknown option '-v' (write takes -P"));
  EXPECT_TRUE(Contains(ErrorOf("read -z 0 512"), "unknown option '-z' (read takes -P"));
  EXPECT_TRUE(Contains(ErrorOf("read -x 0 512"), "unknown option '-x'"));
  EXPECT_TRUE(Contains(ErrorOf("write 0 512 -P"), "option -P needs a pattern"));
  EXPECT_TRUE(Contains(ErrorOf("write -z -P 1 0 512"), "-z and -P cannot be used together"));
  EXPECT_TRUE(Contains(ErrorOf("write -P 0xcd -z 0 512"), "-z and -P"));
}

TEST(IoScriptTest, PatternErrors) {
  for (const char* bad : {"256", "-1", "0x100", "0x", "abc", "1k", "0xzz", "12a"}) {
    const std::string text = std::string("write -P ") + bad + " 0 512";
    EXPECT_TRUE(Contains(ErrorOf(text), std::string("pattern '") + bad + "' is not a byte"))
        << text;
  }
}

TEST(IoScriptTest, NumberErrors) {
  EXPECT_TRUE(Contains(ErrorOf("write 12Q 512"), "offset: size '12Q' has unknown suffix"));
  EXPECT_TRUE(Contains(ErrorOf("read 0 lots"), "length: size 'lots' is not a number"));
  EXPECT_TRUE(Contains(ErrorOf("write 1000 512"), "offset 1000 is not a multiple of 512"));
  EXPECT_TRUE(Contains(ErrorOf("read 0 4000"), "length 4000 is not a multiple of 512"));
  EXPECT_TRUE(Contains(ErrorOf("read 0 0"), "length must not be zero"));
  EXPECT_TRUE(Contains(ErrorOf("write 0 2G"), "length 2147483648 is over the 1 GiB"));
}

TEST(IoScriptTest, ScriptErrorsNameIndexAndText) {
  auto s = ParseIoScript({"write 0 4k", "wrtie 0 4k", "flush"}, false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "command 2 'wrtie 0 4k': unknown command 'wrtie' (read, write, flush)");
  s = ParseIoScript({"read 0 4k", "flush", "read -P 300 0 4k"}, false);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.status().message(), "command 3 'read -P 300 0 4k': pattern '300'"));
  s = ParseIoScript({}, false);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.status().message(), "no commands"));
}

TEST(IoScriptTest, ReadOnlyRefusesWrites) {
  auto s = ParseIoScript({"read 0 4k", "write -z 0 4k"}, /*read_only=*/true);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kReadOnly);
  EXPECT_TRUE(Contains(s.status().message(), "command 2 'write -z 0 4k': write refused"));
  EXPECT_TRUE(Contains(s.status().message(), "read-only (-r)"));
  auto ok = ParseIoScript({"read 0 4k", "flush"}, /*read_only=*/true);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->size(), 2u);
}

TEST(IoScriptTest, ParsesWholeScriptInOrder) {
  auto s = ParseIoScript({"write -P 1 0 4k", "flush", "read -P 1 0 4k"}, false);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].kind, Kind::kWrite);
  EXPECT_EQ((*s)[1].kind, Kind::kFlush);
  EXPECT_EQ((*s)[2].kind, Kind::kRead);
}

TEST(IoScriptTest, RangesInsideTheDisk) {
  auto script = ParseIoScript({"write 0 4k", "flush", "read 60k 4k", "read 64k 512"}, false);
  ASSERT_TRUE(script.ok());
  EXPECT_TRUE(CheckIoScriptRanges(std::span(*script).first(3), 64 << 10).ok());
  const Status s = CheckIoScriptRanges(*script, 64 << 10);
  EXPECT_TRUE(Contains(s.message(),
                       "command 4 'read 64k 512': range ends past the end of the "
                       "disk (65536 bytes)"));
  auto far = ParseIoScript({"read 16E 512"}, false);
  // 16E does not fit in 64 bits: caught while parsing.
  EXPECT_FALSE(far.ok());
  auto huge = ParseIoScript({"read 15E 1G"}, false);
  ASSERT_TRUE(huge.ok()) << huge.status().ToString();
  EXPECT_FALSE(CheckIoScriptRanges(*huge, 1 << 30).ok());
}

TEST(IoScriptTest, FindPatternMismatch) {
  std::vector<std::byte> data(1024, std::byte{0x42});
  EXPECT_EQ(FindPatternMismatch(data, 0x42), -1);
  EXPECT_EQ(FindPatternMismatch(data, 0x43), 0);
  data[700] = std::byte{0};
  EXPECT_EQ(FindPatternMismatch(data, 0x42), 700);
}

TEST(IoScriptTest, HexDumpIsQemuIoLayout) {
  std::vector<std::byte> data(20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte(static_cast<uint8_t>('A' + i));
  data[1] = std::byte{0xff};
  EXPECT_EQ(HexDump(data, 0x200),
            "00000200:  41 ff 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  A.CDEFGHIJKLMNOP\n"
            "00000210:  51 52 53 54  QRST\n");
  EXPECT_EQ(HexDump({}, 0), "");
}

}  // namespace
}  // namespace fvd::img
