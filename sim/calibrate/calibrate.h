// `fvdsim calibrate PATH`: measures a real file system or block device with fio (and, on a file
// system, the host's CPU per request with real mode: host_probe.h) and writes the simulator's
// disk model for it (fit.h), to use in a workload file as `model: FILE`.
//
// PATH is a directory (a scratch file is made in it), a file name that does not exist yet (made
// as the scratch file), or, with `device`, a block device. Calibration writes nothing but the
// scratch file and real mode's image beside it, which it removes, and the model; on a device it
// says first that it writes there. Refused before anything is written, each with a message naming
// PATH: an existing file, a folder that is not there or not writable, too little free space, a
// block device without `device`, O_DIRECT asked on tmpfs, fio missing.
#pragma once

#include <cstdint>
#include <string>

namespace fvd::sim::calibrate {

struct CalibrateOptions {
  std::string path;
  std::string out;                     // the model file; "" = standard output
  uint64_t size_bytes = 256ull << 20;  // of the scratch file (or of the device used)
  double runtime_s = 2;                // of each timed probe
  bool direct = true;                  // O_DIRECT (--cache direct); false: the page cache
  bool device = false;                 // PATH may be a block device, written over
  bool json = false;                   // what was measured and fitted, as JSON, on stdout
  std::string fio = "fio";             // found on PATH unless it holds a '/'
};

// Exit codes: 0 the model was written, 2 bad input or a probe failed.
int Calibrate(const CalibrateOptions& options);

}  // namespace fvd::sim::calibrate
