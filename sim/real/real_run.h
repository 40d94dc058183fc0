// Real mode (`fvdsim run FILE --real DIR`): the workload file's VMs, with the same workload
// generators and the same oracle checking every quiet read, on real FVD images created in DIR,
// through the engine on the POSIX world (io_uring, O_DIRECT if asked), on the real clock.
//
// Bases are files in DIR holding seeded token sectors made as the simulator makes a base's
// content (sim/disk/initial_content.h; the seeds differ from a simulated run's), so the oracle
// checks base data as it does in the simulator. A base on a network disk (`shared_bandwidth`,
// as the `network` preset sets) is served to the VMs by nbdkit on the disk's link model
// (base_server.h), unless `local_bases`. Other disk models do not apply (the storage is what it
// is). Times in the result count from the run's start, as the simulator's do.
//
// Without crashes every VM runs in this process, on one loop. With them, each VM's image lives
// in processes of its own, killed with SIGKILL at the crash times (`at`, `random_per_hour`, for
// the VMs an entry names), recovered and checked, the workload then going on in a new process
// (vm_process.h).
//
// Refused before anything is written, naming the key: crashes after_ops (counted inside the
// engine's process), I/O errors and latency spikes (a real device cannot be told to fail or
// stall), separate data files and prefetch profiles (not yet), a DIR on tmpfs with O_DIRECT,
// files in DIR that a run would overwrite. The run stops at the file's max_time; its images and
// bases are removed unless `keep`.
#pragma once

#include <memory>
#include <string>

#include "core/util/status.h"
#include "sim/config/config.h"
#include "sim/report/recorder.h"
#include "sim/world/simulation.h"

namespace fvd::sim::real {

struct RealOptions {
  std::string dir;
  bool direct = false;        // O_DIRECT on the images and bases
  bool keep = false;          // leave the images and bases in dir
  bool local_bases = false;   // read bases on network disks as local files too (no nbdkit)
  std::string workload_file;  // where the config came from, to name lines in refusals ("": none)
  bool record = false;        // keep a time series for a report
};

struct RealRun {
  SimResult result;                    // in the simulator's shape (no simulated disks)
  std::unique_ptr<Recorder> recorder;  // with `record`; times count from the run's start
};

Result<RealRun> RunReal(const WorkloadConfig& config, uint64_t seed, const RealOptions& options);

}  // namespace fvd::sim::real
