#include "sim/disk/error_device.h"

#include <utility>

namespace fvd::sim {
namespace {
constexpr uint64_t kPpm = 1'000'000;
}  // namespace

Result<ErrorOp> ParseErrorOp(std::string_view name) {
  if (name == "read") return ErrorOp::kRead;
  if (name == "write") return ErrorOp::kWrite;
  if (name == "flush") return ErrorOp::kFlush;
  if (name == "any") return ErrorOp::kAny;
  return Status::InvalidArgument("error op '" + std::string(name) +
                                 "' is not read, write, flush or any");
}

Result<std::unique_ptr<ErrorDevice>> ErrorDevice::Create(BlockDevice& inner, Scheduler& scheduler,
                                                         const ErrorConfig& config, uint64_t seed,
                                                         const FaultGate* gate) {
  FVD_ASSIGN_OR_RETURN(const ErrorOp op, ParseErrorOp(config.op));
  return std::unique_ptr<ErrorDevice>(new ErrorDevice(inner, scheduler, config, op, seed, gate));
}

ErrorDevice::ErrorDevice(BlockDevice& inner, Scheduler& scheduler, const ErrorConfig& config,
                         ErrorOp op, uint64_t seed, const FaultGate* gate)
    : inner_(inner), scheduler_(scheduler), config_(config), op_(op), rng_(seed), gate_(gate) {}

bool ErrorDevice::Matches(ErrorOp op, uint64_t offset, uint64_t length) const {
  if (op_ != ErrorOp::kAny && op_ != op) return false;
  if (op == ErrorOp::kFlush || config_.length_bytes == 0) return true;
  // A zero-length request still sits at a point: count it where it points.
  const uint64_t end = offset + (length == 0 ? 1 : length);
  return offset < config_.offset_bytes + config_.length_bytes && config_.offset_bytes < end;
}

bool ErrorDevice::Inject(ErrorOp op, uint64_t offset, uint64_t length) {
  if (gate_ != nullptr && !gate_->open()) return false;
  if (!Matches(op, offset, length)) return false;
  const uint64_t index = matched_++;
  if (index < config_.after_ops) return false;
  if (config_.count != 0 && injected_ >= config_.count) return false;
  if (!rng_.Chance(config_.probability_ppm, kPpm)) return false;
  ++injected_;
  return true;
}

Status ErrorDevice::PostError(std::string_view op_name, uint64_t offset, IoCallback done) {
  Status error = Status::IoError("injected error on " + std::string(op_name) + " at " +
                                 std::to_string(offset));
  // Captures no `this`: the completion must not need the decorator.
  scheduler_.Post([done = std::move(done), error = std::move(error)] { done(error); });
  return Status::Ok();
}

Status ErrorDevice::SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
  // Bad arguments fail at submit exactly as the inner device would fail them.
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()));
  if (Inject(ErrorOp::kRead, offset, buf.size())) return PostError("read", offset, std::move(done));
  return inner_.SubmitRead(offset, buf, std::move(done));
}

Status ErrorDevice::SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                                IoCallback done) {
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()));
  if (Inject(ErrorOp::kWrite, offset, buf.size())) {
    return PostError("write", offset, std::move(done));
  }
  return inner_.SubmitWrite(offset, buf, mode, std::move(done));
}

Status ErrorDevice::SubmitFlush(IoCallback done) {
  if (Inject(ErrorOp::kFlush, 0, 0)) return PostError("flush", 0, std::move(done));
  return inner_.SubmitFlush(std::move(done));
}

Status ErrorDevice::SubmitResize(uint64_t new_size, IoCallback done) {
  return inner_.SubmitResize(new_size, std::move(done));
}

}  // namespace fvd::sim
