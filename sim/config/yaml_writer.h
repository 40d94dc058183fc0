// Writing a WorkloadConfig back as a workload file: the inverse of yaml_loader.h.
//
// Contract: LoadWorkloadText(WriteWorkloadYaml(c)) gives back `c`, field for field, for every
// config the loader accepts (the loader's own output, a swarm world, a minimized world). Only
// what differs from the defaults of config.h (for a disk, from its preset's figures) is written,
// each value in the largest unit that holds it exactly ("64KiB", "1500us"), so the file reads
// like one written by hand.
#pragma once

#include <string>

#include "sim/config/config.h"

namespace fvd::sim {

// The workload file for `config`, beginning with the comment lines of `header` (each line
// prefixed with "# "; none when empty).
std::string WriteWorkloadYaml(const WorkloadConfig& config, const std::string& header = "");

}  // namespace fvd::sim
