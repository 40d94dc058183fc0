// The world `fvdsim run FILE [--seed N] [--swarm]` runs: the file's own, or, with --swarm, the
// one the seed draws from the file's `swarm:` section (or every default without one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/util/status.h"
#include "sim/config/config.h"
#include "sim/config/yaml_loader.h"

namespace fvd::sim::swarm {

struct RunWorld {
  WorkloadConfig config;  // what runs
  uint64_t seed = 0;      // the run's seed (the file's when none is given)
  bool swarm = false;     // drawn by the seed
  std::vector<std::string> features;  // WorldFeatures(config)
};

// Loads `path` and its swarm section (both checked: errors name file:line:column), then the
// world, with `overrides` (--set) applied to it (to the drawn world under --swarm). Without
// --swarm a file must have VMs; a swarm-only file says to use --swarm.
Result<RunWorld> LoadRunWorld(const std::string& path, std::optional<uint64_t> seed, bool swarm,
                              const std::vector<Override>& overrides = {});

}  // namespace fvd::sim::swarm
