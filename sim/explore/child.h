// Runs of `fvdsim run` in child processes, several at once: what `fvdsim explore` and
// `fvdsim minimize` are made of (ARCHITECTURE.md: exploration sits above fvdsim, as processes,
// so a run that crashes or hangs is a finding, not the end of the search).
//
// CONTRACT
// - Start() spawns argv[0] with argv (no shell), stdout and stderr each on a pipe; the child's
//   stdin is /dev/null. At most `capacity` children run at once: Start() requires room.
// - Next() waits until some child has ended and returns its result; a child still running when
//   its wall-clock timeout passes is killed with SIGKILL and reported as timed out.
// - Every child is reaped: the destructor kills and reaps those still running.
// - Single-threaded: all calls from one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace fvd::sim::explore {

struct ChildResult {
  uint64_t id = 0;        // the caller's tag, from Start()
  int exit_code = -1;     // when the child exited
  int signal = 0;         // when a signal ended it (SIGKILL after a timeout too)
  bool timed_out = false;
  std::string out;        // all of stdout
  std::string err_tail;   // the last 16 KiB of stderr
  double cpu_s = 0;       // user + system time of the child
  double wall_s = 0;
};

class ChildPool {
 public:
  explicit ChildPool(unsigned capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
  ~ChildPool();
  ChildPool(const ChildPool&) = delete;
  ChildPool& operator=(const ChildPool&) = delete;

  // Spawns `argv` (argv[0] is the program's path) tagged `id`. Fails if it cannot be spawned.
  // REQUIRES: running() < capacity().
  [[nodiscard]] Status Start(uint64_t id, const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout);
  // The next child to end. REQUIRES: running() > 0.
  ChildResult Next();

  size_t running() const { return children_.size(); }
  unsigned capacity() const { return capacity_; }

 private:
  struct Child {
    uint64_t id;
    pid_t pid;
    int out_fd, err_fd;  // -1 once at EOF
    std::chrono::steady_clock::time_point start, deadline;
    bool timed_out = false;
    std::string out, err;
  };
  // Reads what is ready, kills the overdue; returns the index of a child whose pipes are both at
  // EOF, or -1.
  int PollOnce();
  ChildResult Reap(size_t index);

  unsigned capacity_;
  std::vector<Child> children_;
};

// This program's own path (/proc/self/exe), to run its `run` command in the children.
std::string SelfPath();

}  // namespace fvd::sim::explore
