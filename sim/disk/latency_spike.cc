#include "sim/disk/latency_spike.h"

#include <chrono>
#include <utility>

namespace fvd::sim {
namespace {
constexpr uint64_t kPpm = 1'000'000;
}  // namespace

LatencySpikeDevice::LatencySpikeDevice(BlockDevice& inner, Scheduler& scheduler,
                                       const LatencySpikeConfig& config, uint64_t seed)
    : inner_(inner), scheduler_(scheduler), config_(config), rng_(seed) {}

IoCallback LatencySpikeDevice::Decorate(IoCallback done, bool& spiked) {
  // One draw per operation, whatever the outcome, so the stream stays aligned with the
  // operation count.
  spiked = rng_.Chance(config_.probability_ppm, kPpm);
  if (!spiked) return done;
  // Captures the scheduler, not `this`: a delayed completion must not need the decorator.
  return [&scheduler = scheduler_, delay = std::chrono::nanoseconds(config_.extra_ns),
          done = std::move(done)](Status status) {
    scheduler.ScheduleAfter(delay, [done, status = std::move(status)] { done(status); });
  };
}

Status LatencySpikeDevice::Account(Status submitted, bool spiked) {
  if (submitted.ok()) {
    ++operations_;
    if (spiked) ++spikes_;
  }
  return submitted;
}

Status LatencySpikeDevice::SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
  bool spiked = false;
  IoCallback cb = Decorate(std::move(done), spiked);
  return Account(inner_.SubmitRead(offset, buf, std::move(cb)), spiked);
}

Status LatencySpikeDevice::SubmitWrite(uint64_t offset, std::span<const std::byte> buf,
                                       WriteMode mode, IoCallback done) {
  bool spiked = false;
  IoCallback cb = Decorate(std::move(done), spiked);
  return Account(inner_.SubmitWrite(offset, buf, mode, std::move(cb)), spiked);
}

Status LatencySpikeDevice::SubmitFlush(IoCallback done) {
  bool spiked = false;
  IoCallback cb = Decorate(std::move(done), spiked);
  return Account(inner_.SubmitFlush(std::move(cb)), spiked);
}

Status LatencySpikeDevice::SubmitResize(uint64_t new_size, IoCallback done) {
  bool spiked = false;
  IoCallback cb = Decorate(std::move(done), spiked);
  return Account(inner_.SubmitResize(new_size, std::move(cb)), spiked);
}

}  // namespace fvd::sim
