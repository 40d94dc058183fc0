// Byte sizes as people type them, qemu-img style: "512", "64k", "64K", "64M", "10G", "1.5T",
// "4KiB", "1MB" (all suffixes are powers of 1024, as in qemu-img).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/status.h"

namespace fvd {

// Parses a byte size. Errors name the text and say what is wrong (bad number, unknown suffix,
// overflow, negative).
Result<uint64_t> ParseByteSize(std::string_view text);

// "1 GiB", "64 MiB", "4 KiB", "512 B", "1.5 GiB": the largest binary unit that keeps a short
// number.
std::string FormatByteSize(uint64_t bytes);

// v / m rounded up. REQUIRES: m > 0. Exact for every v and m (header fields are untrusted: with
// (v + m - 1) / m, a chunk size near 2^64 gave a non-empty disk no table entries at all).
constexpr uint64_t DivRoundUp(uint64_t v, uint64_t m) {
  return v / m + (v % m != 0 ? 1 : 0);
}
// Rounds v up to a multiple of m. REQUIRES: m > 0, and that multiple fits in 64 bits (then it
// is exact, however large m is).
constexpr uint64_t RoundUp(uint64_t v, uint64_t m) {
  return DivRoundUp(v, m) * m;
}
constexpr bool IsPowerOfTwo(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace fvd
