#include "core/util/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace fvd {
namespace {

// Power of 1024 named by a suffix ("", "b", "k", "kib", "kb", "m", ...), or -1.
int SuffixExponent(std::string_view suffix) {
  std::string s;
  for (char c : suffix) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.empty() || s == "b") return 0;
  static constexpr std::string_view kLetters = "kmgtpe";
  const size_t pos = kLetters.find(s[0]);
  if (pos == std::string_view::npos) return -1;
  const std::string_view rest = std::string_view(s).substr(1);
  if (rest.empty() || rest == "ib" || rest == "b") return static_cast<int>(pos) + 1;
  return -1;
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  const std::string_view number = text.substr(0, i);
  std::string_view suffix = text.substr(i);
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) {
    return Status::InvalidArgument("size " + quoted + " is not a number with an optional suffix");
  }
  const int exponent = SuffixExponent(suffix);
  if (exponent < 0) {
    return Status::InvalidArgument("size " + quoted + " has unknown suffix '" +
                                   std::string(suffix) + "' (use k, M, G, T, P or E)");
  }
  const long double value = std::stold(std::string(number)) * std::pow(1024.0L, exponent);
  if (value >= 18446744073709551616.0L) {
    return Status::InvalidArgument("size " + quoted + " does not fit in 64 bits");
  }
  if (value != std::floor(value)) {
    return Status::InvalidArgument("size " + quoted + " is not a whole number of bytes");
  }
  return static_cast<uint64_t>(value);
}

std::string FormatByteSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  long double v = static_cast<long double>(bytes);
  while (v >= 1024.0L && unit < 6) {
    v /= 1024.0L;
    ++unit;
  }
  char buf[48];
  if (v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%.0Lf %s", v, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.3Lg %s", v, kUnits[unit]);
  }
  return buf;
}

}  // namespace fvd
