// Values as people write them in workload files: "4KiB", "100us", "1Gbit/s", "70%", "0.1%".
//
// Every parser is exact integer arithmetic on the decimal text ("1.5s" is 1'500'000'000 ns, not
// a double rounded), so a workload means the same thing with every compiler and library. A
// value that is not a whole number of the result unit ("1.5ns", "0.5B") is an error rather
// than silently rounded. Spaces between the number and the unit are allowed; "_" may separate
// digits ("200_000"). Errors are kInvalidArgument and start with the text as written, e.g.
// "-4KiB is not a size: negative".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/status.h"

namespace fvd::sim {

// Bytes. Suffixes are powers of 1024 whatever their spelling, as in qemu-img: "4096", "4K",
// "4KB", "4KiB", "1.5GiB", "2T" (B, K, M, G, T, P, E; case-insensitive).
Result<uint64_t> ParseSize(std::string_view text);

// Nanoseconds: "250ns", "100us" (or "µs"), "5ms", "1.5s", "1min", "1h". A bare number is an
// error unless it is 0, because "think_time: 100" would be ambiguous.
Result<uint64_t> ParseDuration(std::string_view text);

// Bytes per second. Decimal byte units ("500MB/s" = 5e8), binary byte units ("200MiB/s"),
// decimal bit units ("1Gbit/s" = 1.25e8, also "Gbps"), or a bare number of bytes per second.
// Units are case-sensitive because "Mb" and "MB" differ by eight.
Result<uint64_t> ParseBandwidth(std::string_view text);

// A whole percentage 0..100: "70%" or "70".
Result<uint32_t> ParsePercent(std::string_view text);

// A probability in parts per million, 0..1'000'000: "0.1%" (1000), "1ppm" (1), or a bare
// fraction "0.001" (1000).
Result<uint32_t> ParseProbability(std::string_view text);

// A plain non-negative integer without a unit: "8", "200000", "200_000".
Result<uint64_t> ParseCount(std::string_view text);

// The inverses: the shortest exact spelling in the largest unit that divides the value, which
// the parser above reads back to the same number ("64KiB", "1500us", "125MB/s", "0.1%").
std::string FormatSize(uint64_t bytes);
std::string FormatDuration(uint64_t ns);
std::string FormatBandwidth(uint64_t bytes_per_s);
std::string FormatProbability(uint32_t ppm);

}  // namespace fvd::sim
