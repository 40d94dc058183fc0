#include "sim/config/units.h"

#include <array>
#include <numeric>
#include <span>
#include <string>

namespace fvd::sim {
namespace {

// At most this many significant digits after the point, so 10^digits fits in 64 bits with room
// for a unit denominator of 8 (bits).
constexpr uint64_t kMaxScale = 1'000'000'000'000'000'000ull;  // 10^18

// A decimal number split from its unit: the value is mantissa / scale.
struct Decimal {
  uint64_t mantissa = 0;
  uint64_t scale = 1;  // 10^(digits after the point), trailing zeros dropped
  std::string_view unit;
};

// A unit and what one of it is worth in the result unit, as the fraction num / den (a bit is
// 1/8 byte, so bit rates need the denominator).
struct Unit {
  std::string_view name;
  uint64_t num;
  uint64_t den = 1;
};

// How one kind of value is spelled.
struct Spec {
  std::string_view what;  // "size", for "x is not a size: ..."
  std::span<const Unit> units;
  bool ignore_case;
  std::string_view unit_help;  // appended to "unknown unit 'x'"
  std::string_view not_whole;  // why a fractional result is refused
};

Status Bad(std::string_view text, std::string_view what, std::string_view reason) {
  const std::string shown = text.empty() ? "''" : std::string(text);
  return Status::InvalidArgument(shown + " is not a " + std::string(what) + ": " +
                                 std::string(reason));
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// An '_' between two digits is a separator ("200_000"); anywhere else it ends the number.
bool IsSeparator(std::string_view s, size_t i) {
  return s[i] == '_' && i > 0 && IsDigit(s[i - 1]) && i + 1 < s.size() && IsDigit(s[i + 1]);
}

// Appends one digit; false on overflow of the mantissa or of the scale.
bool PushDigit(Decimal& d, int digit, bool fraction) {
  if (d.mantissa > (UINT64_MAX - static_cast<uint64_t>(digit)) / 10) return false;
  d.mantissa = d.mantissa * 10 + static_cast<uint64_t>(digit);
  if (!fraction) return true;
  if (d.scale >= kMaxScale) return false;
  d.scale *= 10;
  return true;
}

// Splits "1.50 GiB" into mantissa 15, scale 10, unit "GiB". Zeros at the end of the fraction
// are dropped so "1.000000000000000000000s" does not overflow.
Result<Decimal> SplitDecimal(std::string_view text, std::string_view what) {
  const std::string_view s = Trim(text);
  if (s.empty()) return Bad(text, what, "empty");
  if (s.front() == '-') return Bad(text, what, "negative");
  Decimal d;
  bool point = false;
  bool any_digit = false;
  int pending_zeros = 0;  // fraction zeros kept back until a non-zero digit follows
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if (IsSeparator(s, i)) continue;
    if (s[i] == '.' && !point) {
      point = true;
      continue;
    }
    if (!IsDigit(s[i])) break;
    any_digit = true;
    const int digit = s[i] - '0';
    if (point && digit == 0) {
      ++pending_zeros;
      continue;
    }
    for (; pending_zeros > 0; --pending_zeros) {
      if (!PushDigit(d, 0, true)) return Bad(text, what, "too many digits");
    }
    if (!PushDigit(d, digit, point)) {
      return Bad(text, what, point ? "too many digits" : "does not fit in 64 bits");
    }
  }
  if (!any_digit) return Bad(text, what, "not a number");
  d.unit = Trim(s.substr(i));
  return d;
}

const Unit* FindUnit(const Spec& spec, std::string_view name) {
  for (const Unit& u : spec.units) {
    if (spec.ignore_case ? EqualsIgnoreCase(u.name, name) : u.name == name) return &u;
  }
  return nullptr;
}

// mantissa * num / (scale * den), exactly. Dividing num and the denominator by their gcd first
// leaves them coprime, so the result is whole exactly when the reduced denominator divides the
// mantissa, and no intermediate product exceeds the result.
Result<uint64_t> Apply(std::string_view text, const Spec& spec, const Decimal& d, const Unit& u) {
  uint64_t den = d.scale * u.den;  // <= 10^18 * 8: fits
  const uint64_t g = std::gcd(u.num, den);
  const uint64_t num = u.num / g;
  den /= g;
  if (d.mantissa % den != 0) return Bad(text, spec.what, spec.not_whole);
  const uint64_t whole = d.mantissa / den;
  if (num != 0 && whole > UINT64_MAX / num) return Bad(text, spec.what, "does not fit in 64 bits");
  return whole * num;
}

Result<uint64_t> Parse(std::string_view text, const Spec& spec) {
  FVD_ASSIGN_OR_RETURN(const Decimal d, SplitDecimal(text, spec.what));
  const Unit* unit = FindUnit(spec, d.unit);
  if (unit == nullptr) {
    return Bad(text, spec.what,
               "unknown unit '" + std::string(d.unit) + "' " + std::string(spec.unit_help));
  }
  return Apply(text, spec, d, *unit);
}

constexpr uint64_t kKi = 1024;
constexpr std::array kSizeUnits = {
    Unit{"", 1},           Unit{"b", 1},           Unit{"k", kKi},
    Unit{"kb", kKi},       Unit{"kib", kKi},       Unit{"m", kKi << 10},
    Unit{"mb", kKi << 10}, Unit{"mib", kKi << 10}, Unit{"g", kKi << 20},
    Unit{"gb", kKi << 20}, Unit{"gib", kKi << 20}, Unit{"t", kKi << 30},
    Unit{"tb", kKi << 30}, Unit{"tib", kKi << 30}, Unit{"p", kKi << 40},
    Unit{"pb", kKi << 40}, Unit{"pib", kKi << 40}, Unit{"e", kKi << 50},
    Unit{"eb", kKi << 50}, Unit{"eib", kKi << 50},
};
constexpr Spec kSize = {"size", kSizeUnits, true,
                        "(use B, KiB, MiB, GiB, TiB; K/KB/M/MB/... also mean powers of 1024)",
                        "not a whole number of bytes"};

constexpr std::array kDurationUnits = {
    Unit{"ns", 1},
    Unit{"us", 1'000},
    Unit{"\u00b5s", 1'000},
    Unit{"ms", 1'000'000},
    Unit{"s", 1'000'000'000},
    Unit{"min", 60'000'000'000},
    Unit{"h", 3'600'000'000'000},
};
constexpr Spec kDuration = {"duration", kDurationUnits, true, "(use ns, us, ms, s, min or h)",
                            "not a whole number of nanoseconds"};

constexpr uint64_t kK = 1'000;
constexpr uint64_t kM = 1'000'000;
constexpr uint64_t kG = 1'000'000'000;
constexpr uint64_t kT = 1'000'000'000'000;
constexpr std::array kBandwidthUnits = {
    Unit{"", 1},
    Unit{"B/s", 1},
    Unit{"kB/s", kK},
    Unit{"KB/s", kK},
    Unit{"MB/s", kM},
    Unit{"GB/s", kG},
    Unit{"TB/s", kT},
    Unit{"KiB/s", kKi},
    Unit{"MiB/s", kKi << 10},
    Unit{"GiB/s", kKi << 20},
    Unit{"TiB/s", kKi << 30},
    Unit{"bit/s", 1, 8},
    Unit{"kbit/s", kK, 8},
    Unit{"Kbit/s", kK, 8},
    Unit{"Mbit/s", kM, 8},
    Unit{"Gbit/s", kG, 8},
    Unit{"Tbit/s", kT, 8},
    Unit{"bps", 1, 8},
    Unit{"kbps", kK, 8},
    Unit{"Kbps", kK, 8},
    Unit{"Mbps", kM, 8},
    Unit{"Gbps", kG, 8},
    Unit{"Tbps", kT, 8},
};
constexpr Spec kBandwidth = {
    "bandwidth", kBandwidthUnits, false,
    "(use B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, bit/s, Kbit/s, Mbit/s, Gbit/s or Gbps)",
    "not a whole number of bytes per second"};

constexpr std::array kPercentUnits = {Unit{"", 1}, Unit{"%", 1}};
constexpr Spec kPercent = {"percentage", kPercentUnits, false, "(write 70 or 70%)",
                           "not a whole percentage"};

constexpr uint64_t kPpmPerOne = 1'000'000;
constexpr std::array kProbabilityUnits = {Unit{"", kPpmPerOne}, Unit{"%", kPpmPerOne / 100},
                                          Unit{"ppm", 1}};
constexpr Spec kProbability = {"probability", kProbabilityUnits, false,
                               "(write a fraction 0.001, a percentage 0.1% or 1000ppm)",
                               "finer than 1 ppm"};

constexpr std::array kCountUnits = {Unit{"", 1}};
constexpr Spec kCount = {"whole number", kCountUnits, false, "(no unit expected)",
                         "has a fraction"};

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  return Parse(text, kSize);
}

Result<uint64_t> ParseDuration(std::string_view text) {
  FVD_ASSIGN_OR_RETURN(const Decimal d, SplitDecimal(text, kDuration.what));
  if (d.unit.empty()) {
    if (d.mantissa == 0) return uint64_t{0};
    return Bad(text, kDuration.what, "needs a unit (ns, us, ms, s, min or h)");
  }
  return Parse(text, kDuration);
}

Result<uint64_t> ParseBandwidth(std::string_view text) {
  return Parse(text, kBandwidth);
}

Result<uint32_t> ParsePercent(std::string_view text) {
  FVD_ASSIGN_OR_RETURN(const uint64_t v, Parse(text, kPercent));
  if (v > 100) return Status::InvalidArgument(std::string(text) + " is not a percentage (0..100)");
  return static_cast<uint32_t>(v);
}

Result<uint32_t> ParseProbability(std::string_view text) {
  FVD_ASSIGN_OR_RETURN(const uint64_t v, Parse(text, kProbability));
  if (v > kPpmPerOne) return Bad(text, kProbability.what, "more than 1 (100%, 1000000ppm)");
  return static_cast<uint32_t>(v);
}

Result<uint64_t> ParseCount(std::string_view text) {
  return Parse(text, kCount);
}

namespace {

struct Scale {
  uint64_t factor;
  std::string_view suffix;
};

// `value` in the largest of `scales` (largest first) that divides it; the last scale is 1.
std::string InLargestUnit(uint64_t value, std::span<const Scale> scales) {
  for (const Scale& sc : scales) {
    if (value != 0 && value % sc.factor == 0)
      return std::to_string(value / sc.factor) + std::string(sc.suffix);
  }
  return std::to_string(value) + std::string(scales.back().suffix);
}

}  // namespace

std::string FormatSize(uint64_t bytes) {
  static constexpr std::array<Scale, 5> kScales = {
      {{1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}, {1, ""}}};
  return InLargestUnit(bytes, kScales);
}

std::string FormatDuration(uint64_t ns) {
  static constexpr std::array<Scale, 7> kScales = {{{3'600'000'000'000, "h"},
                                                    {60'000'000'000, "min"},
                                                    {1'000'000'000, "s"},
                                                    {1'000'000, "ms"},
                                                    {1'000, "us"},
                                                    {1, "ns"},
                                                    {1, "ns"}}};
  if (ns == 0) return "0s";
  return InLargestUnit(ns, kScales);
}

std::string FormatBandwidth(uint64_t bytes_per_s) {
  static constexpr std::array<Scale, 5> kScales = {{{1'000'000'000'000, "TB/s"},
                                                    {1'000'000'000, "GB/s"},
                                                    {1'000'000, "MB/s"},
                                                    {1'000, "kB/s"},
                                                    {1, "B/s"}}};
  return InLargestUnit(bytes_per_s, kScales);
}

std::string FormatProbability(uint32_t ppm) {
  static constexpr std::array<Scale, 2> kScales = {{{10'000, "%"}, {1, "ppm"}}};
  if (ppm == 0) return "0%";
  return InLargestUnit(ppm, kScales);
}

}  // namespace fvd::sim
