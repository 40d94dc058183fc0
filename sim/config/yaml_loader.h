// Loading a workload file (workloads/REFERENCE.md lists every key) into a WorkloadConfig.
//
// The YAML maps one to one onto the structs of sim/config/config.h: each key is the field's
// name without its unit suffix (read_latency_ns is `read_latency: 80us`), and values take the
// units of sim/config/units.h. Keys left out keep the defaults written in config.h.
//
// Loading either returns a complete, checked config or the first error, never a partial
// config: unknown keys, wrong types, bad units, impossible values (queue_depth 0, a VM on a
// disk nobody defined, ...) are all errors of the form
//   "file:line:column: vms[1].phases[0].read_percent: 150 is not a percentage (0..100)"
// with 1-based line and column of the offending key or value. No exception escapes.
//
// A top-level `swarm:` section is left to sim/swarm/spec.h; a file that has one may have no VMs
// (its worlds come from `--swarm`).
//
// A disk's preset ("ssd", "hdd", "network" or "") fills its model first; the keys written beside
// it then override the preset's figures. The disk keeps `preset` as written.
#pragma once

#include <string>
#include <vector>

#include "core/util/status.h"
#include "sim/config/config.h"

namespace fvd::sim {

// A key set from the command line (`fvdsim run FILE --set image.journal_size=64KiB`): SECTION.KEY
// with SECTION one of workload (the top-level keys), disk, base, vm, image, phase, crash, error
// and spike, or a bare KEY only one section has (`journal_size`). The value is written as in the
// file, and goes into every entry of its section (every disk, every VM's image, every phase);
// a section without entries takes it nowhere. The value then meets every check the file's own
// values meet; an error about it names the --set instead of a place in the file.
struct Override {
  std::string key;
  std::string value;
};

// "KEY=VALUE", its key checked: an unknown or ambiguous key is an error naming what to write.
Result<Override> ParseOverride(const std::string& text);

struct ResolvedKey {
  std::string section;  // "image"
  std::string key;      // "journal_size"
};
Result<ResolvedKey> ResolveOverrideKey(const std::string& key);

// Reads and loads the file at `path`; errors are prefixed with `path`. kNotFound when the file
// cannot be opened, kInvalidArgument for anything wrong inside it.
Result<WorkloadConfig> LoadWorkloadFile(const std::string& path,
                                        const std::vector<Override>& overrides = {});

// Where a key is in the workload file at `path`, as "path:line:column" (1-based), for messages
// about a loaded config: `steps` walks from the top, a map key or a list index at each step
// (e.g. {"crashes", "0", "after_ops"}). "" when the file does not hold it (a value from --set,
// a swarm world) or cannot be read.
std::string LocateKey(const std::string& path, const std::vector<std::string>& steps);

// Loads YAML text; `name_for_errors` stands for the file name in messages.
Result<WorkloadConfig> LoadWorkloadText(const std::string& text, const std::string& name_for_errors,
                                        const std::vector<Override>& overrides = {});

}  // namespace fvd::sim
