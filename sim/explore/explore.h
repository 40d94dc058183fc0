// `fvdsim explore FILE [--swarm] (--seeds A-B | --time 10m) [-j N]`: runs seeds until the
// budget is spent, each `fvdsim run FILE --seed S --json` in a child process of its own, N at a
// time, and groups the failures by signature (sim/world/failure.h, outcome.h): 300 failing
// seeds of one bug are one line with a count, its smallest seed and the command reproducing it.
// A run that crashes the process or outlives the per-seed timeout is a failure like the others,
// and the exploration goes on.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace fvd::sim::explore {

struct ExploreOptions {
  std::string file;
  bool swarm = false;
  uint64_t first_seed = 1;
  std::optional<uint64_t> last_seed;             // --seeds A-B
  std::optional<std::chrono::nanoseconds> time;  // --time: start no seed after this long
  unsigned jobs = 0;                             // 0: one per core
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};  // per seed
  std::string max_time;  // passed on to each run ("" = the world's)
  std::string bug;       // fvdsim_testbugs: a deliberate bug, passed on to each run
  bool stop_at_first = false;  // stop once a seed fails
  bool json = false;
  std::string self;  // the fvdsim binary the children run ("" = this one)
};

// Explores and prints the summary (JSON with `json`). Exit codes: 0 no seed failed, 1 some did,
// 2 bad options or a file the first run refuses.
int Explore(const ExploreOptions& options);

// "A-B" (or "A") into the options' seeds; false if it is not that.
bool ParseSeedRange(const std::string& text, ExploreOptions& options);

}  // namespace fvd::sim::explore
