// What one child `fvdsim run ... --json` came to: passed, failed a check, crashed, hung, or
// refused its world; with the failure's signature (sim/world/failure.h), so runs that fail the
// same way group together, and a run that crashes the process has a signature too:
//   process-crash@assert vm.cc:123        an assertion (its file and line)
//   process-crash@asan heap-use-after-free a sanitizer's report
//   process-crash@uncaught std::bad_alloc  an exception nobody caught
//   process-crash@SIGSEGV                  any other signal
//   timeout@wall-clock                     killed after the per-run timeout
//   world-refused@build                    exit 2: the world could not be built
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/explore/child.h"

namespace fvd::sim::explore {

enum class Verdict { kPass, kFail, kProcessCrash, kTimeout, kRefused };

struct Outcome {
  Verdict verdict = Verdict::kPass;
  std::string signature;  // empty when it passed
  std::string message;    // the first violation, or the process's last words
  uint64_t events = 0;
  std::string digest;
  std::vector<std::string> features;  // of the world that ran
  std::vector<std::vector<uint64_t>> crash_schedule_ns;  // per crash entry, as the run scheduled
  double cpu_s = 0, wall_s = 0;
};

Outcome Classify(const ChildResult& r);

// The command line that runs seed `seed` of `file` again, e.g.
// "fvdsim run w.yaml --seed 7 --swarm"; with a deliberate bug, fvdsim_testbugs and --bug.
std::string ReproduceCommand(const std::string& file, uint64_t seed, bool swarm,
                             const std::string& max_time, const std::string& bug);

}  // namespace fvd::sim::explore
