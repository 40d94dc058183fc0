#include "sim/swarm/run_world.h"

#include <filesystem>

#include "sim/config/yaml_loader.h"
#include "sim/config/yaml_writer.h"
#include "sim/swarm/spec.h"
#include "sim/swarm/world.h"

namespace fvd::sim::swarm {

Result<RunWorld> LoadRunWorld(const std::string& path, std::optional<uint64_t> seed, bool swarm,
                              const std::vector<Override>& overrides) {
  FVD_ASSIGN_OR_RETURN(WorkloadConfig file, LoadWorkloadFile(path, swarm ? std::vector<Override>{}
                                                                         : overrides));
  FVD_ASSIGN_OR_RETURN(std::optional<SwarmSpec> spec, LoadSwarmSpec(path));
  RunWorld r;
  r.seed = seed.value_or(file.seed);
  r.swarm = swarm;
  if (!swarm) {
    if (file.vms.empty()) {
      return Status::InvalidArgument(path +
                                     ": no vms: its worlds come from its swarm section; run it "
                                     "with --swarm");
    }
    r.config = std::move(file);
  } else {
    const std::string name = !file.name.empty()
                                 ? file.name
                                 : std::filesystem::path(path).stem().string();
    FVD_ASSIGN_OR_RETURN(r.config, DrawWorld(spec.value_or(SwarmSpec{}), r.seed, name));
    if (!overrides.empty()) {
      FVD_ASSIGN_OR_RETURN(r.config, LoadWorkloadText(WriteWorkloadYaml(r.config),
                                                      path + " (seed " + std::to_string(r.seed) +
                                                          ", --swarm)",
                                                      overrides));
    }
  }
  r.features = WorldFeatures(r.config);
  return r;
}

}  // namespace fvd::sim::swarm
