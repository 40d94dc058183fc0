// One simulated VM: opens its FVD image, runs its workload phases at their queue depth, keeps
// the truth image (oracle) up to date, and survives crashes of its host: when the host loses
// power it waits for the engine to unwind, reopens the image (recovery runs) and checks every
// sector against the oracle before resuming.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/image/image.h"
#include "core/image/wait_list.h"
#include "core/seam/clock.h"
#include "core/util/io_buffer.h"
#include "sim/config/config.h"
#include "sim/disk/error_device.h"
#include "sim/disk/sim_disk.h"
#include "sim/oracle/truth_image.h"
#include "sim/report/recorder.h"
#include "sim/workload/generator.h"
#include "sim/world/failure.h"
#include "sim/world/trace.h"

namespace fvd::sim {

// A clock's time in nanoseconds: virtual time in the simulator; for the POSIX loop
// CLOCK_MONOTONIC, which every process of a real run shares, so a parent's time and a child's
// compare.
inline uint64_t NowNs(const Clock& clock) {
  return static_cast<uint64_t>(clock.Now().time_since_epoch().count());
}

// Latencies of one kind of operation, in virtual nanoseconds.
class LatencyLog {
 public:
  void Add(uint64_t ns) { ns_.push_back(ns); }
  uint64_t count() const { return ns_.size(); }
  // The p-th percentile (0..100), nearest rank; 0 when empty.
  uint64_t Percentile(double p) const;
  // The same over entries [from, count()), the ones logged since count() was `from`.
  uint64_t Percentile(double p, size_t from) const;
  uint64_t Max() const;
  void Append(const LatencyLog& other) {
    ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end());
  }

 private:
  std::vector<uint64_t> ns_;
};

// One phase of a VM's workload as it ran.
struct PhaseStats {
  std::string kind;
  uint64_t start_ns = 0, end_ns = 0;
  uint64_t reads = 0, writes = 0;
  uint64_t base_bytes_read = 0;  // by the image during the phase (guest, copy-on-read, prefetch)
  uint64_t read_p99_ns = 0;
};

struct VmStats {
  uint64_t reads = 0, writes = 0, flushes = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t failed_ops = 0;  // errors outside crashes (injected faults)
  uint64_t crashes = 0;
  uint64_t recovery_ns_max = 0;   // the longest reopen after a crash (recovery included)
  uint64_t replayed_sectors = 0;  // journal sectors recovery applied, over every reopen
  uint64_t start_ns = 0, end_ns = 0;
  LatencyLog read_latency, write_latency, flush_latency;
  // Summed over every open of the image (a crash reopens it; each open counts afresh).
  uint64_t base_bytes_read = 0;  // all base reads: guest, copy-on-read, prefetch
  uint64_t copy_on_read_bytes = 0;
  uint64_t prefetch_bytes = 0;          // copied into the image by the prefetcher
  uint64_t prefetch_profile_bytes = 0;  // of prefetch_bytes, copied following a profile
  uint64_t prefetch_pauses = 0, prefetch_resets = 0;
  uint64_t prefetch_backoffs = 0;        // gaps left by the delay-based pacing
  int64_t prefetch_started_ns = -1;      // virtual time the prefetcher started (last open)
  int64_t prefetch_finished_ns = -1;     // virtual time the image became self-contained
  int64_t last_guest_base_read_ns = -1;  // a workload read last waited for the base (at the
                                         // end of a phase; checks after a crash may count)
  std::vector<PhaseStats> phases;
};

// Run-wide switches that are not part of a workload file.
struct SimOptions {
#ifdef FVD_TEST_BUGS
  TestBugs bugs;  // deliberate engine bugs (core/image/test_bugs.h), test builds only
#endif
};

// What a VM runs on. The world owns all of it and outlives the VM. The clock and scheduler are
// the simulator's VirtualLoop, or any other loop of the seam (core/seam/clock.h).
struct VmWorld {
  Clock& clock;
  Scheduler& scheduler;
  RandomSource& random;  // the engine's random source (prefetch coin)
  Trace& trace;
  Violations& violations;
  FaultGate& faults;  // held while this VM recovers, checks or closes its image
  const SimOptions& options;
  Recorder* recorder;  // null unless a report was asked for
  // The prefetch profile the named VM has recorded so far (empty if none or no such VM).
  std::function<std::vector<ByteRange>(const std::string&)> profile_of;
};

// The devices of one VM. Each raw simulated disk (for crashes) comes with the top of its
// decorator stack, which the engine uses. Without a simulated image disk (null: devices that
// are not simulated) the VM cannot lose power (Crash) and skips the in-place check.
struct VmDisks {
  SimDisk* image_disk;
  BlockDevice& image_dev;
  SimDisk* data_disk = nullptr;  // a separate data file, or null
  BlockDevice* data_dev = nullptr;
  BlockDevice* base = nullptr;  // may be null
};

// One guest operation as it completed, for a VmTap: what a report's time series records.
struct VmOpReport {
  uint64_t bytes = 0;
  uint64_t latency_ns = 0;
  uint64_t now_ns = 0;           // when it completed (the VM's clock)
  uint64_t base_bytes_read = 0;  // by this life of the VM so far
  GuestOp::Kind kind = GuestOp::kRead;
  uint8_t phase = 0;
  bool ok = false;
};

// What a VM reports as it goes, for a host that mirrors it in another process (real mode's
// process kills, sim/real/vm_process.h): every change to its oracle, in order, each made here
// before the engine sees the operation (so a mirror that has them all knows every write that
// may have reached the image); each guest operation's outcome; each phase's start; the
// prefetcher's progress (bytes copied by this life); each violation found.
class VmTap {
 public:
  virtual ~VmTap() = default;
  // A guest write of each sector's `values` (its SectorHash) at byte `offset`.
  virtual void WriteSubmitted(uint64_t id, uint64_t offset, std::span<const uint64_t> values) = 0;
  virtual void WriteCompleted(uint64_t id) = 0;
  virtual void WriteFailed(uint64_t id) = 0;
  virtual void FlushSubmitted(uint64_t id) = 0;
  virtual void FlushCompleted(uint64_t id) = 0;
  virtual void FlushFailed(uint64_t id) = 0;
  virtual void OpDone(const VmOpReport& op) = 0;
  virtual void PhaseStarted(uint32_t index, uint64_t now_ns) = 0;
  virtual void PrefetchProgress(uint64_t now_ns, uint64_t bytes) = 0;
  virtual void Violation(const std::string& signature, const std::string& message) = 0;
};

// Where a VM takes up its workload again in a new process after its last one was killed: the
// phase it was in, how many of that phase's operations had completed, how long it had run.
struct VmProgress {
  uint32_t phase = 0;
  uint64_t ops_done = 0;
  uint64_t elapsed_ns = 0;
};

class Vm {
 public:
  // `original(sector)` is the hash a never-written sector reads (base data or zeros).
  Vm(VmWorld world, std::string name, uint64_t id, const VmConfig& config, VmDisks disks,
     uint64_t disk_bytes, uint64_t seed, std::function<uint64_t(uint64_t)> original);
  ~Vm();

  void SetRecorder(Recorder* r) { w_.recorder = r; }
  // Starts the VM's life (it waits for config.start_ns first).
  void Start();
  // No crash is configured for this VM: its oracle keeps only latest values (TruthImage::
  // SetNoCrashes). Before Start; Crash must not be called after it.
  void SetNoCrashes() {
    oracle_.SetNoCrashes();
    crashes_possible_ = false;
  }
  // The host loses power now: its image disk (and data disk) keep what `fates` lets them keep.
  // Ignored unless the VM is running its phases. REQUIRES: a simulated image disk.
  void Crash(Prng& rng, const CrashFates& fates);
  // Ends the current phase and skips the rest (the run reached its time limit); the VM then
  // drains, checks and closes its image as usual.
  void Stop() { stop_requested_ = true; }

  // For a host that runs the VM's life in processes it may kill (sim/real/vm_process.h).
  // Reports to `tap` (not owned; null: none). Before Start.
  void SetTap(VmTap* tap) { tap_ = tap; }
  // The oracle, to mirror a tap's reports into, or to hand on (AdoptOracle) to the VM of the
  // next process.
  TruthImage& oracle() { return oracle_; }
  void AdoptOracle(TruthImage&& oracle) { oracle_ = std::move(oracle); }
  // Start takes up the workload at `p` (no start delay; the phase shortened by what was done)
  // instead of from the beginning. Before Start.
  void ResumeAt(const VmProgress& p) { resume_ = p; }
  // After the process that ran the image was killed: opens the image (recovery runs), checks
  // every written sector as after a crash, closes it. Counts a crash; violations go to the
  // world's. Not while the VM runs.
  Task<void> RecoverAfterKill();

  bool finished() const { return finished_; }
  bool running() const { return running_; }
  const std::string& name() const { return name_; }
  const VmStats& stats() const { return stats_; }
  const ImageStats* image_stats() const { return image_ ? &image_->stats() : nullptr; }
  // Base bytes read so far, over every open of the image.
  uint64_t BaseBytesSoFar() const;
  // What this VM's image recorded (record_prefetch_profile), kept across reopens.
  std::vector<ByteRange> recorded_profile() const;

 private:
  Task<void> Main();
  Task<void> OpenImage(FailureStage stage);  // sets stopped_ on failure
  Task<void> Reopen(FailureStage stage);
  Task<void> RunPhase(const PhaseConfig& phase);
  // The phase at `index` as this life runs it: shortened by resume_ if it is the one resumed;
  // nullopt when nothing of it is left.
  std::optional<PhaseConfig> PhaseToRun(size_t index) const;
  Task<void> DoOp(GuestOp op);
  // A zeroed buffer of `length` bytes for one guest request, reusing a spare when there is one
  // (fresh memory for every request would cost a page fault per page).
  // A guest request's buffer, reused: its bytes are whatever they were (a read or the write's
  // data fills all of it), so growing one for a larger request zero-fills nothing.
  UninitializedIoBuffer TakeBuffer(uint64_t length);
  void GiveBack(UninitializedIoBuffer buffer);
  Task<void> Drain();
  Task<void> Sleep(uint64_t ns);
  Task<void> Recover();  // sets stopped_ on failure
  Task<void> CheckAll(bool after_crash);
  bool Overlaps(const GuestOp& op) const;
  // Adds the open image's counters to stats_ (before it closes or is dropped).
  void AddImageStats();
  void Violation(std::string_view what, FailureStage stage, const std::string& message);
  // What the NBD export's direct path relies on: a range Image::InPlaceRun says is in place
  // holds, on the data device at the run it names, the latest values (checked by the oracle
  // while no write to it is in flight). Every 8th verified read: a counter, no random draws,
  // so runs and digests do not change.
  void CheckInPlace(uint64_t offset, uint64_t length);
  // Reports the oracle's findings in `oracle_found_`, found at `stage`, and clears them.
  void OracleViolations(FailureStage stage);

  VmWorld w_;
  std::string name_;
  uint64_t id_;
  VmConfig config_;
  VmDisks disks_;
  uint64_t disk_bytes_;
  Prng prng_;       // the workload's draws: requests, think times, spot checks
  Prng data_prng_;  // the tokens of written data, apart so data never shifts the requests
  TruthImage oracle_;
  bool crashes_possible_ = true;
  VmTap* tap_ = nullptr;
  std::optional<VmProgress> resume_;
  std::unique_ptr<Image> image_;
  std::vector<ByteRange> saved_profile_;  // the last open's recording
  VmStats stats_;
  uint32_t in_flight_ = 0;
  uint8_t phase_index_ = 0;
  uint32_t sync_write_percent_ = 0;  // the running phase's
  std::vector<GuestOp> in_flight_ops_;
  std::vector<UninitializedIoBuffer> spare_buffers_;
  std::vector<uint64_t> write_tokens_;     // scratch: the tokens of the write being submitted
  std::vector<uint64_t> read_hashes_;      // scratch: the sector hashes of the read completing now
  std::vector<std::string> oracle_found_;  // scratch: the oracle's violations of one check
  uint64_t in_place_reads_ = 0;            // verified reads so far (CheckInPlace samples them)
  UninitializedIoBuffer in_place_bytes_;   // scratch: the data device's bytes of an in-place run
  WaitList completions_;
  bool crash_pending_ = false;
  bool running_ = false;
  bool finished_ = false;
  bool stopped_ = false;  // a violation or an open failure ended the VM
  bool stop_requested_ = false;
};

}  // namespace fvd::sim
