#include "tools/fvd-img/bench_plan.h"

#include <cstdio>

namespace fvd::img {
namespace {

constexpr uint64_t kSector = 512;

Status NotSectorMultiple(const char* what, uint64_t v) {
  return Status::InvalidArgument(std::string(what) + " " + std::to_string(v) +
                                 " is not a multiple of 512");
}

// Position of request i, by 128-bit arithmetic so that huge counts and steps cannot overflow.
uint64_t Position(const BenchPlan& p, uint64_t i) {
  __extension__ typedef unsigned __int128 U128;
  const U128 pos = static_cast<U128>(p.offset) + static_cast<U128>(i) * p.step_or_size();
  return static_cast<uint64_t>(pos % p.disk_size);
}

}  // namespace

Status ValidateBenchPlan(const BenchPlan& p) {
  if (p.count == 0) return Status::InvalidArgument("-c (count) must be at least 1");
  if (p.depth == 0) return Status::InvalidArgument("-d (depth) must be at least 1");
  if (p.buffer_size == 0) return Status::InvalidArgument("-s (buffer size) must be at least 512");
  if (p.buffer_size % kSector) return NotSectorMultiple("-s (buffer size)", p.buffer_size);
  if (p.step % kSector) return NotSectorMultiple("-S (step size)", p.step);
  if (p.offset % kSector) return NotSectorMultiple("-o (offset)", p.offset);
  if (p.buffer_size > p.disk_size) {
    return Status::InvalidArgument("-s (buffer size) " + std::to_string(p.buffer_size) +
                                   " is larger than the disk (" + std::to_string(p.disk_size) +
                                   " bytes)");
  }
  if (p.offset >= p.disk_size) {
    return Status::InvalidArgument("-o (offset) " + std::to_string(p.offset) +
                                   " is not inside the disk (" + std::to_string(p.disk_size) +
                                   " bytes)");
  }
  // The positions repeat with a period of at most disk_size / gcd(step, disk_size) sectors'
  // worth of requests; checking the first min(count, disk sectors) of them covers every one.
  const uint64_t distinct = p.disk_size / kSector;
  const uint64_t n = p.count < distinct ? p.count : distinct;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t at = Position(p, i);
    if (at + p.buffer_size > p.disk_size) {
      return Status::InvalidArgument("request " + std::to_string(i + 1) + " at offset " +
                                     std::to_string(at) + " would cross the end of the disk (" +
                                     std::to_string(p.disk_size) +
                                     " bytes): choose -o and -S so that every request fits");
    }
  }
  return Status::Ok();
}

uint64_t BenchRequestOffset(const BenchPlan& p, uint64_t i) {
  return Position(p, i);
}

std::string BenchBanner(const BenchPlan& p) {
  return "Sending " + std::to_string(p.count) + (p.write ? " write" : " read") + " requests, " +
         std::to_string(p.buffer_size) + " bytes each, " + std::to_string(p.depth) +
         " in parallel (starting at offset " + std::to_string(p.offset) + ", step size " +
         std::to_string(p.step_or_size()) + ")";
}

std::string BenchCompleted(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "Run completed in %3.3f seconds.", seconds);
  return buf;
}

}  // namespace fvd::img
