// The host's share of a request (DiskConfig::host_cost_ns, fresh_write_host_cost_ns): the CPU
// time fvdsim's real mode spends per request to the calibrated storage, in system calls
// (io_uring, the file system's submission path), the engine, the workload generator and the
// oracle, on the one thread that runs real mode's loop (without crashes every VM runs on the
// calling thread: sim/real).
//
// ProbeHost runs real mode in `dir` on workloads of its own, one VM each on a new plain image of
// `image_bytes`, 4 KiB requests at queue depth 8, each twice (with `ops` and 2 x `ops`
// operations in its measured phase), and divides the difference in the calling thread's CPU
// time (user and system, RUSAGE_THREAD) by the difference in the requests the image made (data
// reads and writes, journal writes, flushes). The difference cancels what every run costs
// whatever its length (creating, opening, closing and removing the image, and a first phase).
// - Over written data: a first phase writes a 64 MiB range (at most the image) sequentially,
//   then the measured phase reads and writes it at random, half each.
// - Into fresh space: the measured phase writes at random over the whole new image, so nearly
//   every write fills a hole (ext4 allocates on the submitting thread).
// Real mode removes its files.
#pragma once

#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace fvd::sim::calibrate {

struct HostProbe {
  double cpu_ns_per_request = 0;  // over written data
  double fresh_write_cpu_ns = 0;  // per request, writing into fresh space
  uint64_t requests = 0;          // in the longer run over written data
  double cpu_s = 0;               // of that run
  double wall_s = 0;              // of that run
};

Result<HostProbe> ProbeHost(const std::string& dir, bool direct, uint64_t image_bytes,
                            uint64_t ops);

}  // namespace fvd::sim::calibrate
