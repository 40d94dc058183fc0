// What a VM's process tells the parent as it runs (real mode's process kills, vm_process.h): a
// VmTap (sim/world/vm.h) that writes each report to a pipe as one record, and the parent's side
// that reads them back and applies them, in order, to its mirror of the VM.
//
// CONTRACT
// - A record is written with blocking write(2)s before the tap call returns, so once the VM
//   hands a write to the engine its record is in the pipe, and a SIGKILL cannot take it back.
// - A record cut short (the process was killed while writing it) is dropped by the reader at
//   the end of the stream: the VM had not yet handed that operation to the engine.
// - The reader checks every id it is told against the mirror's oracle, which numbers writes
//   and flushes in the same order; a mismatch is an error (the two oracles diverged).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/util/status.h"
#include "sim/world/vm.h"

namespace fvd::sim::real {

// What a VM's last process adds at its end: its image's counters (a killed process's are lost).
struct ProcessTotals {
  uint64_t base_bytes_read = 0, copy_on_read_bytes = 0, prefetch_bytes = 0;
  uint64_t prefetch_profile_bytes = 0, prefetch_pauses = 0, prefetch_backoffs = 0;
  uint64_t prefetch_resets = 0, replayed_sectors = 0;
  int64_t prefetch_started_ns = -1, prefetch_finished_ns = -1, last_guest_base_read_ns = -1;
  uint64_t end_ns = 0;
  uint64_t allocating_writes = 0, journal_sector_writes = 0, journal_writes = 0;
  uint64_t journal_recycles = 0, journal_recycle_wait_ns = 0, image_flushes = 0;
  uint64_t data_flushes = 0;
  bool timed_out = false;  // the run's max_time stopped the workload before its phases ended
};

// The child's side.
class PipeTap final : public VmTap {
 public:
  explicit PipeTap(int fd) : fd_(fd) {}
  void WriteSubmitted(uint64_t id, uint64_t offset, std::span<const uint64_t> values) override;
  void WriteCompleted(uint64_t id) override;
  void WriteFailed(uint64_t id) override;
  void FlushSubmitted(uint64_t id) override;
  void FlushCompleted(uint64_t id) override;
  void FlushFailed(uint64_t id) override;
  void OpDone(const VmOpReport& op) override;
  void PhaseStarted(uint32_t index, uint64_t now_ns) override;
  void PrefetchProgress(uint64_t now_ns, uint64_t bytes) override;
  void Violation(const std::string& signature, const std::string& message) override;
  // The process ends cleanly: its totals.
  void End(const ProcessTotals& totals);

 private:
  void Send(uint8_t kind, uint64_t a, uint64_t b, std::span<const std::byte> tail);

  int fd_;
  std::vector<std::byte> out_;
};

// What the parent does with the records, besides mirroring the oracle.
class PipeSink {
 public:
  virtual ~PipeSink() = default;
  virtual void OpDone(const VmOpReport& op) = 0;
  virtual void PhaseStarted(uint32_t index, uint64_t now_ns) = 0;
  virtual void PrefetchProgress(uint64_t now_ns, uint64_t bytes) = 0;
  virtual void Violation(const std::string& signature, const std::string& message) = 0;
  virtual void End(const ProcessTotals& totals) = 0;
};

// The parent's side: bytes in, records applied to `oracle` and `sink`.
class PipeReader {
 public:
  PipeReader(TruthImage& oracle, PipeSink& sink) : oracle_(oracle), sink_(sink) {}
  // Applies every whole record in `bytes` (with what was left over from before).
  Status Feed(std::span<const std::byte> bytes);
  // Bytes of a record not yet whole (at the end of the stream: a record cut by a kill).
  size_t pending() const { return buf_.size(); }
  void DropPending() { buf_.clear(); }

 private:
  Status Apply(uint8_t kind, uint64_t a, uint64_t b, std::span<const std::byte> tail);

  TruthImage& oracle_;
  PipeSink& sink_;
  std::vector<uint64_t> values_;  // scratch: a write's sector values
  std::vector<std::byte> buf_;
};

}  // namespace fvd::sim::real
