// A test decorator over a BlockDevice that fails or delays chosen operations: a small stand-in
// for the simulator's fault and latency decorators, for core's own unit tests.
#pragma once

#include <functional>

#include "core/seam/block_device.h"
#include "core/seam/clock.h"

namespace fvd::testing {

enum class Op { kRead, kWrite, kFlush, kResize };

class FaultDevice final : public BlockDevice {
 public:
  // `fail(op, offset, length)` returns true to complete that operation with an I/O error.
  using Predicate = std::function<bool(Op, uint64_t, uint64_t)>;

  FaultDevice(BlockDevice& inner, Scheduler& scheduler) : inner_(inner), scheduler_(scheduler) {}
  void set_fail(Predicate p) { fail_ = std::move(p); }
  // `delay(op, offset, length)`: extra time before the operation's completion is delivered.
  using DelayFn = std::function<Duration(Op, uint64_t, uint64_t)>;
  void set_delay(DelayFn d) { delay_ = std::move(d); }

  uint64_t size() const override { return inner_.size(); }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override {
    if (Fails(Op::kRead, offset, buf.size())) return PostError(std::move(done));
    return inner_.SubmitRead(offset, buf, Delayed(Op::kRead, offset, buf.size(), std::move(done)));
  }
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override {
    if (Fails(Op::kWrite, offset, buf.size())) return PostError(std::move(done));
    return inner_.SubmitWrite(offset, buf, mode,
                              Delayed(Op::kWrite, offset, buf.size(), std::move(done)));
  }
  // Served by the inner device, unless that read would fail or be delayed.
  bool TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait) override {
    if (Fails(Op::kRead, offset, buf.size())) return false;
    if (delay_ && delay_(Op::kRead, offset, buf.size()) > Duration::zero()) return false;
    return inner_.TryReadNow(offset, buf, wait);
  }
  // Likewise for writes.
  bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode mode) override {
    if (Fails(Op::kWrite, offset, buf.size())) return false;
    if (delay_ && delay_(Op::kWrite, offset, buf.size()) > Duration::zero()) return false;
    return inner_.TryWriteNow(offset, buf, mode);
  }
  Status SubmitFlush(IoCallback done) override {
    if (Fails(Op::kFlush, 0, 0)) return PostError(std::move(done));
    return inner_.SubmitFlush(Delayed(Op::kFlush, 0, 0, std::move(done)));
  }
  Status SubmitResize(uint64_t new_size, IoCallback done) override {
    if (Fails(Op::kResize, new_size, 0)) return PostError(std::move(done));
    return inner_.SubmitResize(new_size, std::move(done));
  }

 private:
  IoCallback Delayed(Op op, uint64_t offset, uint64_t length, IoCallback done) {
    if (!delay_) return done;
    const Duration d = delay_(op, offset, length);
    if (d <= Duration::zero()) return done;
    return [this, d, done = std::move(done)](Status s) mutable {
      scheduler_.ScheduleAfter(d, [done = std::move(done), s = std::move(s)] { done(s); });
    };
  }
  bool Fails(Op op, uint64_t offset, uint64_t length) const {
    return fail_ && fail_(op, offset, length);
  }
  Status PostError(IoCallback done) {
    scheduler_.Post([done = std::move(done)] { done(Status::IoError("injected fault")); });
    return Status::Ok();
  }

  BlockDevice& inner_;
  Scheduler& scheduler_;
  Predicate fail_;
  DelayFn delay_;
};

}  // namespace fvd::testing
