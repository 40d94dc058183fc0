// The host's share of a request (DiskConfig::host_cost_ns): the CPU time fvdsim's real mode
// spends per request to the calibrated storage, in system calls (io_uring, the file system's
// submission path), the engine, the workload generator and the oracle, on the one thread that
// runs real mode's loop (without crashes every VM runs on the calling thread: sim/real).
//
// ProbeHost runs real mode twice in `dir` on a workload of its own (one VM, a new plain image
// of `image_bytes`, 4 KiB random requests, half reads, at queue depth 8), with `ops` and then
// 2 x `ops` operations, and divides the difference in the calling thread's CPU time (user and
// system, RUSAGE_THREAD) by the difference in the requests the image made (data reads and
// writes, journal writes, flushes). The difference cancels what every run costs whatever its
// length (creating, opening, closing and removing the image). Real mode removes its files.
#pragma once

#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace fvd::sim::calibrate {

struct HostProbe {
  double cpu_ns_per_request = 0;
  uint64_t requests = 0;  // in the longer run
  double cpu_s = 0;       // of the longer run
  double wall_s = 0;      // of the longer run
};

Result<HostProbe> ProbeHost(const std::string& dir, bool direct, uint64_t image_bytes,
                            uint64_t ops);

}  // namespace fvd::sim::calibrate
