// A decorator that calls `fire` after every `every` operations of a kind pass through it (a
// crash "after N writes"). It only counts: operations reach the inner device unchanged, and
// `fire` is posted to the loop, never run inline from a submit.
#pragma once

#include <functional>

#include "core/seam/block_device.h"
#include "core/seam/clock.h"
#include "sim/disk/error_device.h"

namespace fvd::sim {

class OpTriggerDevice final : public BlockDevice {
 public:
  // REQUIRES: every > 0.
  OpTriggerDevice(BlockDevice& inner, Scheduler& scheduler, ErrorOp op, uint64_t every,
                  std::function<void()> fire)
      : inner_(inner), scheduler_(scheduler), op_(op), every_(every), fire_(std::move(fire)) {}

  uint64_t size() const override { return inner_.size(); }
  uint32_t alignment() const override { return inner_.alignment(); }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override {
    Count(ErrorOp::kRead);
    return inner_.SubmitRead(offset, buf, std::move(done));
  }
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override {
    Count(ErrorOp::kWrite);
    return inner_.SubmitWrite(offset, buf, mode, std::move(done));
  }
  Status SubmitFlush(IoCallback done) override {
    Count(ErrorOp::kFlush);
    return inner_.SubmitFlush(std::move(done));
  }
  Status SubmitResize(uint64_t new_size, IoCallback done) override {
    return inner_.SubmitResize(new_size, std::move(done));
  }

 private:
  void Count(ErrorOp op) {
    if (op_ != ErrorOp::kAny && op_ != op) return;
    if (++seen_ % every_ == 0) scheduler_.Post(fire_);
  }

  BlockDevice& inner_;
  Scheduler& scheduler_;
  ErrorOp op_;
  uint64_t every_;
  uint64_t seen_ = 0;
  std::function<void()> fire_;
};

}  // namespace fvd::sim
