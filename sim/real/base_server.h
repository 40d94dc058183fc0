// A base image of real mode served over NBD, as the workload's network disk would serve it:
// nbdkit's `file` plugin on the base file, read-only, on a Unix socket, behind our link filter
// (nbdkit_link_filter.cc: the disk's read latency, its bandwidth on one serialized link shared
// by every connection, its jitter; the simulator's model), with as many threads as the disk's
// queue depth.
//
// CONTRACT
// - Start spawns nbdkit (found on PATH; it exits with its parent) and returns once the socket
//   accepts connections, or fails naming the base and what went wrong: nbdkit not installed,
//   or nbdkit's own message if it exits (at most 30 s).
// - The filter is $FVD_LINK_FILTER if set, else the installed one beside fvdsim
//   (PREFIX/bin/fvdsim, PREFIX/LIBDIR/nbdkit/filters/nbdkit-fvdlink-filter.so), else the one
//   fvdsim was built with, else `fvdlink` from nbdkit's own filter folder.
// - The destructor stops nbdkit and removes the socket and its folder. Destroy every device
//   connected to `uri()` first.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/util/status.h"
#include "sim/config/config.h"

namespace fvd::sim::real {

class BaseServer {
 public:
  static Result<std::unique_ptr<BaseServer>> Start(const std::string& base_file,
                                                   const std::string& base_name,
                                                   const DiskConfig& model, uint64_t seed);
  ~BaseServer();
  BaseServer(const BaseServer&) = delete;
  BaseServer& operator=(const BaseServer&) = delete;

  // The NBD URI a base device opens.
  std::string uri() const { return "nbd+unix:///?socket=" + socket_; }
  // One line for the run's summary: what serves the base, with which rate and delay.
  const std::string& note() const { return note_; }

  // nbdkit's arguments for `model`, besides the socket and the file: options before the
  // plugin's name (the filter `filter`, threads) and parameters after it (the filter's).
  struct Args {
    std::vector<std::string> options, params;
  };
  static Args FilterArgs(const std::string& filter, const DiskConfig& model, uint64_t seed);

 private:
  BaseServer() = default;

  std::string folder_;  // a private temporary folder holding the socket and nbdkit's log
  std::string socket_;
  std::string note_;
  pid_t pid_ = -1;
};

}  // namespace fvd::sim::real
