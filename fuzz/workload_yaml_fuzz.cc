// The workload YAML loader and the swarm section's parser on arbitrary text: a config (or a
// spec) or an error, never a crash or a hang.
#include <string>

#include "sim/config/yaml_loader.h"
#include "sim/swarm/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)fvd::sim::LoadWorkloadText(text, "fuzz.yaml");
  (void)fvd::sim::swarm::LoadSwarmSpecText(text, "fuzz.yaml");
  return 0;
}
