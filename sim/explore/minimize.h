// `fvdsim minimize FILE --seed N [--swarm]`: shrinks a failing run while it keeps failing the
// same way (the same signature, sim/world/failure.h), and writes the smallest world found as a
// plain workload file that reproduces the failure on its own.
//
// Delta debugging over the world's structure, greedily: first the earliest max_time at which it
// still fails; then, pass after pass until none helps, each edit of edits.h (drop a VM group, a
// phase, a base, a fault entry; shorten phases, lower queue depths and sizes; turn features
// off) is tried in a child `fvdsim run`, up to N at a time, and the first that still fails the
// same way is kept. When no edit keeps the failure at the world's own seed, each edit is tried
// again at the next few seeds (`reseeds`): the seed draws every random choice of the run (the
// requests, the disks' jitter, the order of simultaneous events, the crash times), so one edit
// changes all of them, and a smaller world that fails the same way often does so at another
// seed; the file then carries that seed. A child that crashes or hangs is judged by its
// signature like any other.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fvd::sim::explore {

struct MinimizeOptions {
  std::string file;
  uint64_t seed = 1;
  bool swarm = false;
  std::string bug;    // fvdsim_testbugs: a deliberate bug, passed on to each run
  std::string out;    // "" = <file's stem>-seed<N>-min.yaml in the current directory
  unsigned jobs = 0;  // 0: one per core
  unsigned max_runs = 2000;
  unsigned reseeds = 32;  // seeds each edit is tried at once none keeps it at the world's own
  std::chrono::milliseconds timeout{0};  // per run; 0: 30 s or 5x the first run, the larger
  bool json = false;
  std::string self;  // the fvdsim binary the children run ("" = this one)
};

// Exit codes: 0 a smaller (or equal) failing world was written, 2 the seed does not fail or the
// input is bad.
int Minimize(const MinimizeOptions& options);

}  // namespace fvd::sim::explore
