// How a run is shown: a readable summary per VM, and one JSON object for machines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sim/world/simulation.h"

namespace fvd::sim {

// The JSON of `fvdsim run --json`: seed, digest, sim_time_s, wall_time_s, events, crashes,
// violations, and per VM reads, writes, flushes, read_p99_us, write_p99_us and more.
nlohmann::ordered_json ResultToJson(const SimResult& r, const std::string& workload);

// The human summary.
std::string ResultToText(const SimResult& r, const std::string& workload);

}  // namespace fvd::sim
