// A whole simulated run: builds disks, base images and VMs from a WorkloadConfig, runs them on
// virtual time, injects the configured crashes, and collects the results. One seed fixes
// everything (each component gets a sub-seed derived from it in a fixed order).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/config/config.h"
#include "sim/world/vm.h"

namespace fvd::sim {

struct VmReport {
  std::string name;
  VmStats stats;
  ImageStats image;
};

struct DiskReport {
  std::string name;
  DiskStats stats;
  uint64_t bandwidth_bytes_per_s = 0;  // the model's (after its preset)
};

struct SimResult {
  uint64_t seed = 0;
  uint64_t digest = 0;
  uint64_t events = 0;
  uint64_t sim_time_ns = 0;
  uint64_t wall_time_ns = 0;
  uint64_t crashes = 0;
  bool timed_out = false;  // max_time reached before every VM finished
  std::vector<std::string> violations;
  std::vector<std::string> signatures;  // of each violation (failure.h), in the same order
  // Per crash entry of the workload: the virtual times its crashes were scheduled at (`at`
  // and the draws of `random_per_hour`, sorted, at most max_crashes).
  std::vector<std::vector<uint64_t>> crash_schedule_ns;
  std::vector<VmReport> vms;
  std::vector<DiskReport> disks;
  std::vector<BaseImageConfig> bases;
  std::vector<std::string> notes;  // how the run differs from what the file says (real mode)
  bool ok() const { return violations.empty(); }
};

class Simulation {
 public:
  // Builds the world. `options` carries the deliberate engine bugs in test builds.
  static Result<std::unique_ptr<Simulation>> Build(const WorkloadConfig& config, uint64_t seed,
                                                   const SimOptions& options = {});
  // Records a time series for a report (call before Run; it changes nothing in the run).
  const Recorder& EnableRecording();
  ~Simulation();

  // Runs to the end. `progress(fraction)` is called now and then with the share of virtual
  // time (or of finished VMs) done.
  SimResult Run(const std::function<void(double)>& progress);

 private:
  struct World;
  explicit Simulation(std::unique_ptr<World> world);
  std::unique_ptr<World> w_;
};

}  // namespace fvd::sim
