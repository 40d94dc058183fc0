// A decorator that calls `fire` after every `every` operations of a kind pass through it (a
// crash "after N writes"), counted as they are submitted or, with `kComplete`, as they
// complete (then `fire` runs right after the completion's callback: a crash at a persistence
// point). It only counts: operations reach the inner device unchanged, and `fire` is posted
// to the loop, never run inline from a submit.
#pragma once

#include <functional>

#include "core/seam/block_device.h"
#include "core/seam/clock.h"
#include "sim/disk/error_device.h"

namespace fvd::sim {

class OpTriggerDevice final : public BlockDevice {
 public:
  enum class CountOn { kSubmit, kComplete };
  // REQUIRES: every > 0.
  OpTriggerDevice(BlockDevice& inner, Scheduler& scheduler, ErrorOp op, uint64_t every,
                  std::function<void()> fire, CountOn on = CountOn::kSubmit)
      : inner_(inner),
        scheduler_(scheduler),
        op_(op),
        every_(every),
        on_(on),
        fire_(std::move(fire)) {}

  uint64_t size() const override { return inner_.size(); }
  uint32_t alignment() const override { return inner_.alignment(); }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override {
    return inner_.SubmitRead(offset, buf, Counted(ErrorOp::kRead, std::move(done)));
  }
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override {
    return inner_.SubmitWrite(offset, buf, mode, Counted(ErrorOp::kWrite, std::move(done)));
  }
  Status SubmitFlush(IoCallback done) override {
    return inner_.SubmitFlush(Counted(ErrorOp::kFlush, std::move(done)));
  }
  Status SubmitResize(uint64_t new_size, IoCallback done) override {
    return inner_.SubmitResize(new_size, std::move(done));
  }

 private:
  void Count(ErrorOp op) {
    if (op_ != ErrorOp::kAny && op_ != op) return;
    if (++seen_ % every_ == 0) scheduler_.Post(fire_);
  }
  // Counts `op` now (kSubmit), or wraps `done` to count it when it completes (kComplete).
  IoCallback Counted(ErrorOp op, IoCallback done) {
    if (on_ == CountOn::kSubmit) {
      Count(op);
      return done;
    }
    return [this, op, done = std::move(done)](Status s) {
      done(std::move(s));
      Count(op);
    };
  }

  BlockDevice& inner_;
  Scheduler& scheduler_;
  ErrorOp op_;
  uint64_t every_;
  CountOn on_;
  uint64_t seen_ = 0;
  std::function<void()> fire_;
};

}  // namespace fvd::sim
