// The ways `fvdsim minimize` makes a world smaller, each one step: drop a VM group, a phase, a
// base, a fault entry or a crash time; fewer VMs in a group; shorter phases; lower queue
// depths, request sizes, disk sizes, crash and error counts and the operations before them;
// I/O errors every time their filter matches; features off (compact, copy-on-read,
// prefetch, profiles, data files, unaligned I/O, zipf, flushes, fate mixes, volatile caches,
// jitter, seeks). Every edit keeps the world whole: references to what it drops go with it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sim/config/config.h"

namespace fvd::sim::explore {

struct Edit {
  std::string what;  // "drop VM group vm1"
  // Applies the edit to a copy of the world the list was made from; false if it changes nothing.
  std::function<bool(WorkloadConfig&)> apply;
};

// The edits that apply to `world`, biggest cuts first.
std::vector<Edit> Edits(const WorkloadConfig& world);

}  // namespace fvd::sim::explore
