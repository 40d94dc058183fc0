#include "sim/config/units.h"

#include <gtest/gtest.h>

#include <string>

namespace fvd::sim {
namespace {

// The value of an expected success, with the text in the failure message.
template <typename T>
T Ok(const Result<T>& r, std::string_view text) {
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : T{};
}

// The message of an expected failure.
template <typename T>
std::string Error(const Result<T>& r) {
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(Ok(ParseSize("4096"), "4096"), 4096u);
  EXPECT_EQ(Ok(ParseSize("0"), "0"), 0u);
  EXPECT_EQ(Ok(ParseSize("512B"), "512B"), 512u);
  EXPECT_EQ(Ok(ParseSize("200_000"), "200_000"), 200'000u);
}

TEST(ParseSize, BinarySuffixesInEverySpelling) {
  for (const char* text : {"4KiB", "4K", "4KB", "4k", "4kb", "4kib", "4 KiB"}) {
    EXPECT_EQ(Ok(ParseSize(text), text), 4096u) << text;
  }
  EXPECT_EQ(Ok(ParseSize("64MiB"), "64MiB"), 64u << 20);
  EXPECT_EQ(Ok(ParseSize("64MB"), "64MB"), 64u << 20);  // qemu: MB is MiB
  EXPECT_EQ(Ok(ParseSize("1GiB"), "1GiB"), 1u << 30);
  EXPECT_EQ(Ok(ParseSize("2T"), "2T"), 2ull << 40);
  EXPECT_EQ(Ok(ParseSize("1P"), "1P"), 1ull << 50);
  EXPECT_EQ(Ok(ParseSize("15EiB"), "15EiB"), 15ull << 60);
}

TEST(ParseSize, ExactDecimals) {
  EXPECT_EQ(Ok(ParseSize("1.5GiB"), "1.5GiB"), 3ull << 29);
  EXPECT_EQ(Ok(ParseSize("0.5K"), "0.5K"), 512u);
  EXPECT_EQ(Ok(ParseSize(".5K"), ".5K"), 512u);
  EXPECT_EQ(Ok(ParseSize("1.000000000000000000000000GiB"), "many zeros"), 1u << 30);
  EXPECT_EQ(Ok(ParseSize("0.0009765625MiB"), "2^-10 MiB"), 1024u);
}

TEST(ParseSize, Errors) {
  EXPECT_EQ(Error(ParseSize("-4KiB")), "-4KiB is not a size: negative");
  EXPECT_EQ(Error(ParseSize("4XB")),
            "4XB is not a size: unknown unit 'XB' (use B, KiB, MiB, GiB, TiB; K/KB/M/MB/... also "
            "mean powers of 1024)");
  EXPECT_EQ(Error(ParseSize("16EiB")), "16EiB is not a size: does not fit in 64 bits");
  EXPECT_EQ(Error(ParseSize("99999999999999999999")),
            "99999999999999999999 is not a size: does not fit in 64 bits");
  EXPECT_EQ(Error(ParseSize("0.3K")), "0.3K is not a size: not a whole number of bytes");
  EXPECT_EQ(Error(ParseSize("1.5")), "1.5 is not a size: not a whole number of bytes");
  EXPECT_EQ(Error(ParseSize("")), "'' is not a size: empty");
  EXPECT_EQ(Error(ParseSize("KiB")), "KiB is not a size: not a number");
  EXPECT_EQ(Error(ParseSize("1.2.3K")),
            "1.2.3K is not a size: unknown unit '.3K' (use B, KiB, "
            "MiB, GiB, TiB; K/KB/M/MB/... also mean powers of 1024)");
  EXPECT_FALSE(ParseSize("_1").ok());
  EXPECT_FALSE(ParseSize("1__0").ok());
  EXPECT_FALSE(ParseSize("+4K").ok());
  EXPECT_FALSE(ParseSize("1e9").ok());
}

TEST(ParseDuration, EveryUnit) {
  EXPECT_EQ(Ok(ParseDuration("250ns"), "250ns"), 250u);
  EXPECT_EQ(Ok(ParseDuration("100us"), "100us"), 100'000u);
  EXPECT_EQ(Ok(ParseDuration("100\u00b5s"), "100µs"), 100'000u);
  EXPECT_EQ(Ok(ParseDuration("5ms"), "5ms"), 5'000'000u);
  EXPECT_EQ(Ok(ParseDuration("2s"), "2s"), 2'000'000'000u);
  EXPECT_EQ(Ok(ParseDuration("1.5s"), "1.5s"), 1'500'000'000u);
  EXPECT_EQ(Ok(ParseDuration("1min"), "1min"), 60'000'000'000u);
  EXPECT_EQ(Ok(ParseDuration("1h"), "1h"), 3'600'000'000'000u);
  EXPECT_EQ(Ok(ParseDuration("0.25 ms"), "0.25 ms"), 250'000u);
  EXPECT_EQ(Ok(ParseDuration("0"), "0"), 0u);
}

TEST(ParseDuration, Errors) {
  EXPECT_EQ(Error(ParseDuration("100")),
            "100 is not a duration: needs a unit (ns, us, ms, s, min or h)");
  EXPECT_EQ(Error(ParseDuration("5m")),
            "5m is not a duration: unknown unit 'm' (use ns, us, ms, s, min or h)");
  EXPECT_EQ(Error(ParseDuration("-1s")), "-1s is not a duration: negative");
  EXPECT_EQ(Error(ParseDuration("1.5ns")),
            "1.5ns is not a duration: not a whole number of nanoseconds");
  EXPECT_EQ(Error(ParseDuration("6000000h")),
            "6000000h is not a duration: does not fit in 64 bits");
}

TEST(ParseBandwidth, BitsBytesAndBareNumbers) {
  EXPECT_EQ(Ok(ParseBandwidth("1Gbit/s"), "1Gbit/s"), 125'000'000u);
  EXPECT_EQ(Ok(ParseBandwidth("1Gbps"), "1Gbps"), 125'000'000u);
  EXPECT_EQ(Ok(ParseBandwidth("100Mbit/s"), "100Mbit/s"), 12'500'000u);
  EXPECT_EQ(Ok(ParseBandwidth("10 Gbit/s"), "10 Gbit/s"), 1'250'000'000u);
  EXPECT_EQ(Ok(ParseBandwidth("500MB/s"), "500MB/s"), 500'000'000u);
  EXPECT_EQ(Ok(ParseBandwidth("200MiB/s"), "200MiB/s"), 200u << 20);
  EXPECT_EQ(Ok(ParseBandwidth("1.5GB/s"), "1.5GB/s"), 1'500'000'000u);
  EXPECT_EQ(Ok(ParseBandwidth("8bit/s"), "8bit/s"), 1u);
  EXPECT_EQ(Ok(ParseBandwidth("125000000"), "125000000"), 125'000'000u);
  EXPECT_EQ(Ok(ParseBandwidth("4KiB/s"), "4KiB/s"), 4096u);
}

TEST(ParseBandwidth, Errors) {
  EXPECT_EQ(Error(ParseBandwidth("1bit/s")),
            "1bit/s is not a bandwidth: not a whole number of bytes per second");
  const std::string unknown = Error(ParseBandwidth("1Mb/s"));
  EXPECT_EQ(unknown.rfind("1Mb/s is not a bandwidth: unknown unit 'Mb/s' (use B/s", 0), 0u)
      << unknown;
  EXPECT_FALSE(ParseBandwidth("500MB").ok());    // a rate needs "/s"
  EXPECT_FALSE(ParseBandwidth("1gbit/s").ok());  // units are case-sensitive
  EXPECT_EQ(Error(ParseBandwidth("-1MB/s")), "-1MB/s is not a bandwidth: negative");
  EXPECT_EQ(Error(ParseBandwidth("20000000000GB/s")),
            "20000000000GB/s is not a bandwidth: does not fit in 64 bits");
}

TEST(ParsePercent, WithAndWithoutSign) {
  EXPECT_EQ(Ok(ParsePercent("70%"), "70%"), 70u);
  EXPECT_EQ(Ok(ParsePercent("70"), "70"), 70u);
  EXPECT_EQ(Ok(ParsePercent("0"), "0"), 0u);
  EXPECT_EQ(Ok(ParsePercent("100 %"), "100 %"), 100u);
}

TEST(ParsePercent, Errors) {
  EXPECT_EQ(Error(ParsePercent("150")), "150 is not a percentage (0..100)");
  EXPECT_EQ(Error(ParsePercent("101%")), "101% is not a percentage (0..100)");
  EXPECT_EQ(Error(ParsePercent("12.5%")), "12.5% is not a percentage: not a whole percentage");
  EXPECT_EQ(Error(ParsePercent("-5%")), "-5% is not a percentage: negative");
  EXPECT_EQ(Error(ParsePercent("5pc")),
            "5pc is not a percentage: unknown unit 'pc' (write 70 or 70%)");
}

TEST(ParseProbability, PercentPpmAndFraction) {
  EXPECT_EQ(Ok(ParseProbability("0.1%"), "0.1%"), 1'000u);
  EXPECT_EQ(Ok(ParseProbability("1ppm"), "1ppm"), 1u);
  EXPECT_EQ(Ok(ParseProbability("0.001"), "0.001"), 1'000u);
  EXPECT_EQ(Ok(ParseProbability("1"), "1"), 1'000'000u);
  EXPECT_EQ(Ok(ParseProbability("100%"), "100%"), 1'000'000u);
  EXPECT_EQ(Ok(ParseProbability("0"), "0"), 0u);
  EXPECT_EQ(Ok(ParseProbability("0.0001%"), "0.0001%"), 1u);
}

TEST(ParseProbability, Errors) {
  EXPECT_EQ(Error(ParseProbability("2")), "2 is not a probability: more than 1 (100%, 1000000ppm)");
  EXPECT_EQ(Error(ParseProbability("101%")),
            "101% is not a probability: more than 1 (100%, 1000000ppm)");
  EXPECT_EQ(Error(ParseProbability("0.00001%")), "0.00001% is not a probability: finer than 1 ppm");
  EXPECT_EQ(Error(ParseProbability("0.5ppm")), "0.5ppm is not a probability: finer than 1 ppm");
  EXPECT_EQ(Error(ParseProbability("-0.1")), "-0.1 is not a probability: negative");
  EXPECT_FALSE(ParseProbability("1ppb").ok());
}

TEST(ParseCount, PlainIntegers) {
  EXPECT_EQ(Ok(ParseCount("8"), "8"), 8u);
  EXPECT_EQ(Ok(ParseCount("200_000"), "200_000"), 200'000u);
  EXPECT_EQ(Ok(ParseCount("18446744073709551615"), "max"), UINT64_MAX);
  EXPECT_EQ(Error(ParseCount("18446744073709551616")),
            "18446744073709551616 is not a whole number: does not fit in 64 bits");
  EXPECT_EQ(Error(ParseCount("1.5")), "1.5 is not a whole number: has a fraction");
  EXPECT_EQ(Error(ParseCount("8k")),
            "8k is not a whole number: unknown unit 'k' (no unit expected)");
  EXPECT_EQ(Error(ParseCount("-1")), "-1 is not a whole number: negative");
}

}  // namespace
}  // namespace fvd::sim
