// A base image of real mode served over NBD, as the workload's network disk would serve it:
// nbdkit's `file` plugin on the base file, read-only, on a Unix socket, behind its `delay`
// filter (each read waits the model's read latency plus its mean jitter) and its `rate` filter
// (the model's bandwidth, shared by every connection, as `shared_bandwidth` shares it).
//
// CONTRACT
// - Start spawns nbdkit (found on PATH; it exits with its parent) and returns once the socket
//   accepts connections, or fails naming the base and what went wrong: nbdkit not installed,
//   or nbdkit's own message if it exits (at most 30 s).
// - The delay filter counts whole milliseconds, so the latency is rounded to them; `note()`
//   says what the server does and how that differs from the model.
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
                                                   const DiskConfig& model);
  ~BaseServer();
  BaseServer(const BaseServer&) = delete;
  BaseServer& operator=(const BaseServer&) = delete;

  // The NBD URI a base device opens.
  std::string uri() const { return "nbd+unix:///?socket=" + socket_; }
  // One line for the run's summary: what serves the base, with which rate and delay.
  const std::string& note() const { return note_; }

  // nbdkit's arguments for `model`, besides the socket and the file: options before the
  // plugin's name (filters, threads) and parameters after it (the filters').
  struct Args {
    std::vector<std::string> options, params;
  };
  static Args FilterArgs(const DiskConfig& model);
  // The read delay nbdkit applies, in whole milliseconds (the model's latency plus half its
  // jitter, rounded).
  static uint64_t DelayMs(const DiskConfig& model);

 private:
  BaseServer() = default;

  std::string folder_;  // a private temporary folder holding the socket and nbdkit's log
  std::string socket_;
  std::string note_;
  pid_t pid_ = -1;
};

}  // namespace fvd::sim::real
