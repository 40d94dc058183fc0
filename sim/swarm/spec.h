// A workload file's `swarm:` section: the domains of knobs and the chances of features that
// replace the defaults of knobs.h, e.g.
//
//   swarm:
//     features: {crashes: 100%, io_errors: 0%}   # always on, never on
//     disk.read_latency: 50us..2ms               # a range
//     image.block_size: [4KiB, 64KiB]            # choices
//     phase.kind: random                         # one value
//
// Anything wrong (an unknown knob or feature, a unit that does not parse, a range whose min is
// above its max, a value the knob cannot take) is an error naming file:line:column and the key,
// as the loader's errors do, so nothing runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/util/status.h"
#include "sim/swarm/knobs.h"

namespace fvd::sim::swarm {

struct SwarmSpec {
  std::map<std::string, Domain, std::less<>> knobs;          // knob name -> domain given
  std::map<std::string, uint32_t, std::less<>> feature_ppm;  // feature -> chance given

  // The knob's domain: the section's, else the default.
  const Domain& DomainOf(const KnobDef& knob) const;
  // The feature's chance of being on, in parts per million.
  uint32_t ChanceOf(const FeatureDef& feature) const;
  bool operator==(const SwarmSpec&) const = default;
};

// The `swarm:` section of the workload file at `path`, or nullopt when it has none.
Result<std::optional<SwarmSpec>> LoadSwarmSpec(const std::string& path);
// The same from YAML text; `name_for_errors` stands for the file name in messages.
Result<std::optional<SwarmSpec>> LoadSwarmSpecText(const std::string& text,
                                                   const std::string& name_for_errors);

// How a knob's value is written in a workload file ("64KiB", "random", "true").
std::string FormatKnobValue(const KnobDef& knob, uint64_t value);
// A domain as a swarm section would write it: "10us..10ms" or "[1, 2, 4]".
std::string FormatDomain(const KnobDef& knob, const Domain& domain);

// Every feature and knob with its default, as Markdown tables (`fvdsim knobs`; the swarm
// section of workloads/REFERENCE.md holds this text).
std::string KnobsMarkdown();

}  // namespace fvd::sim::swarm
