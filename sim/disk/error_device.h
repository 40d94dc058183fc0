// An error decorator (STYLE.md #3, after SPDK's bdev error module and QEMU's blkdebug): chosen
// operations complete with Status::IoError("injected error on <op> at <offset>") without
// reaching the inner device, so the bytes below stay as they were. The completion is posted,
// never inline. Everything else passes through unchanged.
//
// An operation is chosen when it matches `op` ("read", "write", "flush" or "any"; a resize is
// never chosen) and the range [offset_bytes, offset_bytes + length_bytes) (length 0 = anywhere;
// a flush has no range and always passes this filter), at least `after_ops` matching operations
// came before it, fewer than `count` errors were injected (0 = unlimited), and a draw from its
// own seeded PRNG falls under probability_ppm.
//
// Faults hit the workload, not the setup or the checker: while its FaultGate is held (the
// world creates an image, a VM first opens it, recovers from a crash, checks it against the
// oracle, or closes it), the device injects nothing and counts nothing, so a check that fails
// is the engine's failure, never an injected error's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/seam/block_device.h"
#include "core/seam/clock.h"
#include "core/util/prng.h"
#include "sim/config/config.h"

namespace fvd::sim {

enum class ErrorOp { kRead, kWrite, kFlush, kAny };

// Held (holds > 0) while injected errors must not happen. Owned by the world; one for all.
struct FaultGate {
  uint32_t holds = 0;
  bool open() const { return holds == 0; }
};

// Holds `gate` for its own lifetime (a coroutine frame's, across suspensions).
class FaultGateHold {
 public:
  explicit FaultGateHold(FaultGate* gate) : gate_(gate) {
    if (gate_ != nullptr) ++gate_->holds;
  }
  ~FaultGateHold() {
    if (gate_ != nullptr) --gate_->holds;
  }
  FaultGateHold(const FaultGateHold&) = delete;
  FaultGateHold& operator=(const FaultGateHold&) = delete;

 private:
  FaultGate* gate_;
};

// "read", "write", "flush" or "any"; anything else is kInvalidArgument.
Result<ErrorOp> ParseErrorOp(std::string_view name);

class ErrorDevice final : public BlockDevice {
 public:
  // Fails on an unknown `config.op`. `inner`, `scheduler` and `gate` (may be null: always
  // open) outlive the device.
  static Result<std::unique_ptr<ErrorDevice>> Create(BlockDevice& inner, Scheduler& scheduler,
                                                     const ErrorConfig& config, uint64_t seed,
                                                     const FaultGate* gate = nullptr);

  uint64_t size() const override { return inner_.size(); }
  uint32_t alignment() const override { return inner_.alignment(); }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override;
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override;
  Status SubmitFlush(IoCallback done) override;
  Status SubmitResize(uint64_t new_size, IoCallback done) override;

  uint64_t matched_ops() const { return matched_; }       // passed the op and range filters
  uint64_t injected_errors() const { return injected_; }  // completed with the injected error

 private:
  ErrorDevice(BlockDevice& inner, Scheduler& scheduler, const ErrorConfig& config, ErrorOp op,
              uint64_t seed, const FaultGate* gate);

  bool Matches(ErrorOp op, uint64_t offset, uint64_t length) const;
  // Decides whether this operation fails (and counts it).
  bool Inject(ErrorOp op, uint64_t offset, uint64_t length);
  Status PostError(std::string_view op_name, uint64_t offset, IoCallback done);

  BlockDevice& inner_;
  Scheduler& scheduler_;
  ErrorConfig config_;
  ErrorOp op_;
  Prng rng_;
  const FaultGate* gate_;
  uint64_t matched_ = 0;
  uint64_t injected_ = 0;
};

}  // namespace fvd::sim
