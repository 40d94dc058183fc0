// Real mode's crashes: a VM whose image lives in a child process that the run kills with
// SIGKILL (ARCHITECTURE.md's crash model, for a process instead of a host).
//
// Each life of the VM is a child forked from the parent: it opens the image on io_uring of its
// own and runs the workload (from where the last life stopped), reporting every change to its
// oracle, every operation and every violation through a pipe (vm_pipe.h) before the engine
// sees the operation. The parent mirrors those reports into a second Vm that never runs a
// workload (the mirror). At a crash time the parent kills the child, reads what the pipe still
// holds, and the mirror opens the image (recovery runs), checks every written sector against
// the oracle as after a power loss (each sector reads its value at the last completed flush or
// a value written after it; a process kill loses less than a power loss, never more), and
// closes it. The next life is forked from the parent, so it starts from the mirror's oracle.
//
// CONTRACT
// - Start, Kill and Recover are called by one thread, between lives; `fd()` is the pipe of
//   the running life (-1 between lives), to poll for reads.
// - A life that ends by itself sends its totals; one that dies without being killed (a crash
//   of the engine or of the process) is a violation naming how it died.
// - A killed life's image counters (base bytes, prefetch, journal) are lost with it: the
//   report counts those of the last life.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "core/util/status.h"
#include "sim/config/config.h"
#include "sim/real/vm_pipe.h"
#include "sim/report/recorder.h"
#include "sim/world/simulation.h"
#include "sim/world/vm.h"
#include "tools/host/posix_files.h"

namespace fvd::sim::real {

// Everything a life needs to open the VM's image and run it.
struct VmPlan {
  VmConfig config;  // the group member's
  uint64_t id = 0;
  std::string image_path;
  std::string base_at;  // a file or an NBD URI; "" for none
  uint64_t base_len = 0;
  uint64_t content_seed = 0, seeded_bytes = 0;  // the base's content (OriginalValues)
  uint64_t seed = 0;
  bool direct = false;
  uint64_t run_start_ns = 0;  // CLOCK_MONOTONIC at the run's start (every process shares it)
  uint64_t max_time_ns = 0;
};

class VmProcess final : private PipeSink {
 public:
  // Opens the parent's own image and base devices and builds the mirror.
  static Result<std::unique_ptr<VmProcess>> Create(const VmPlan& plan, host::PosixFiles& files,
                                                   Violations& violations);
  ~VmProcess() override;

  // Forks the next life. REQUIRES: no life running.
  Status Start();
  int fd() const { return fd_; }
  // Reads what the pipe holds now; at its end, reaps the life (finished, or a violation if it
  // died by itself). Errors: a record the mirror cannot apply.
  Status Read();
  // SIGKILLs the running life, reads the rest of its pipe and reaps it. No-op between lives.
  Status Kill();
  // After Kill: the mirror recovers and checks the image (violations to the run's). Errors:
  // the image file cannot be opened.
  Status Recover();

  // Records the lives' operations and prefetch progress into `r` (not owned; null: none).
  void SetRecorder(Recorder* r) { recorder_ = r; }
  // Base bytes read by every life so far, as the lives reported them.
  uint64_t base_bytes_read() const { return base_before_ + base_now_; }

  bool running() const { return pid_ > 0; }
  bool finished() const { return finished_; }           // a life ended by itself
  bool timed_out() const { return totals_.timed_out; }  // its last life stopped at max_time
  bool stopped() const;                                 // a violation ended the VM
  const std::string& name() const { return plan_.config.name; }
  VmReport Report() const;

 private:
  VmProcess(const VmPlan& plan, host::PosixFiles& files, Violations& violations);
  [[noreturn]] void RunLife(int fd);
  Status BuildMirror();
  void Reap();
  // PipeSink
  void OpDone(const VmOpReport& op) override;
  void PhaseStarted(uint32_t index, uint64_t now_ns) override;
  void PrefetchProgress(uint64_t now_ns, uint64_t bytes) override;
  void Violation(const std::string& signature, const std::string& message) override;
  void End(const ProcessTotals& totals) override;

  VmPlan plan_;
  host::PosixFiles& files_;
  Violations& violations_;
  Trace trace_;
  FaultGate faults_;
  SimOptions options_;
  std::unique_ptr<BlockDevice> image_, base_;
  std::unique_ptr<Vm> mirror_;
  std::unique_ptr<PipeReader> reader_;
  pid_t pid_ = -1;
  int fd_ = -1;
  uint32_t lives_ = 0;
  uint64_t crashes_ = 0, recovery_ns_max_ = 0, replayed_sectors_ = 0;
  bool finished_ = false;
  bool violated_ = false;
  bool killing_ = false;  // Kill's SIGKILL: the death that follows is no violation
  // What the lives reported, and where the next one resumes.
  VmStats stats_;
  ProcessTotals totals_;
  std::vector<LatencyLog> phase_reads_;  // by phase index
  std::vector<uint32_t> phase_indexes_;  // of each entry of stats_.phases
  VmProgress progress_;
  uint64_t phase_started_ns_ = 0;
  Recorder* recorder_ = nullptr;
  // A life counts from 0: what the earlier lives reached, and what this one has.
  uint64_t base_before_ = 0, base_now_ = 0;
  uint64_t prefetch_before_ = 0, prefetch_now_ = 0;
};

}  // namespace fvd::sim::real
