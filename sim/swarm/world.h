// The world a seed chooses (`fvdsim run FILE --seed N --swarm`).
//
// DrawWorld turns a seed into a complete workload: how many VM groups, VMs and bases, the disk
// models, each image's configuration, each VM's phases, and the faults, every value from the
// domains of `spec` (knobs.h, spec.h). The draws come from streams of their own, derived from
// the seed apart from every stream the run itself uses, one stream per knob and per thing it
// sets (VM group, phase, disk, fault entry). So the same seed gives the same world bit for bit,
// the world never shifts the run's random choices, and narrowing one knob leaves every other
// draw as it was.
//
// The world is returned as the workload loader reads it back from the text WriteWorkloadYaml
// makes of it: valid by the loader's own checks, and exactly what `--print-world` writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/util/status.h"
#include "sim/config/config.h"
#include "sim/swarm/spec.h"

namespace fvd::sim::swarm {

// The world for `seed`, named `name`.
Result<WorkloadConfig> DrawWorld(const SwarmSpec& spec, uint64_t seed, const std::string& name);

// The features a world has on (its images, disks, workload and faults), by the names of
// knobs.h's features plus "unbuffered" and "volatile_cache", in the order of knobs.h; for any
// workload, drawn or written by hand.
std::vector<std::string> WorldFeatures(const WorkloadConfig& config);

}  // namespace fvd::sim::swarm
