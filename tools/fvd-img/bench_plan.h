// `fvd-img bench`: qemu-img bench's request sequence and messages, kept apart from running
// them so they can be checked without files. Request i (from 0) goes to
// (offset + i * step) mod disk_size, as qemu-img bench wraps its position at the end of the
// disk; `depth` of them are in flight at once.
#pragma once

#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace fvd::img {

struct BenchPlan {
  uint64_t count = 75000;       // -c: requests in all
  uint64_t depth = 64;          // -d: requests in flight
  uint64_t offset = 0;          // -o: the first request's offset
  uint64_t buffer_size = 4096;  // -s: bytes per request
  uint64_t step = 0;            // -S: 0 = buffer_size
  bool write = false;           // -w
  uint8_t pattern = 0;          // --pattern: the byte writes carry (qemu-img: zeros)
  uint64_t disk_size = 0;       // the image's virtual size
  bool through_aio = false;     // -i given: every request goes through that AIO backend

  uint64_t step_or_size() const { return step == 0 ? buffer_size : step; }
};

// Checks a plan against its disk: counts and sizes positive, offsets and sizes multiples of
// 512 (the engine's sector), the buffer no larger than the disk, and no request that would
// cross the end of the disk. Errors name the option and value.
Status ValidateBenchPlan(const BenchPlan& plan);

// Where request `i` goes. REQUIRES: a valid plan.
uint64_t BenchRequestOffset(const BenchPlan& plan, uint64_t i);

// qemu-img bench's first line: "Sending 75000 read requests, 4096 bytes each, 64 in parallel
// (starting at offset 0, step size 4096)".
std::string BenchBanner(const BenchPlan& plan);

// qemu-img bench's last line: "Run completed in 1.234 seconds."
std::string BenchCompleted(double seconds);

}  // namespace fvd::img
