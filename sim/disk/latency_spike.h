// A latency decorator (STYLE.md #3, after SPDK's bdev delay module): with probability
// probability_ppm per operation, drawn from its own seeded PRNG, the completion reaches the
// caller extra_ns after the inner device delivered it. Everything else passes through: a submit
// the inner device refuses is refused here too (and then no callback runs), and a delayed
// completion is still exactly once, later, never inline.
#pragma once

#include <cstdint>

#include "core/seam/block_device.h"
#include "core/seam/clock.h"
#include "core/util/prng.h"
#include "sim/config/config.h"

namespace fvd::sim {

class LatencySpikeDevice final : public BlockDevice {
 public:
  // `inner` and `scheduler` outlive this device. `seed` seeds the spike draws.
  LatencySpikeDevice(BlockDevice& inner, Scheduler& scheduler, const LatencySpikeConfig& config,
                     uint64_t seed);

  uint64_t size() const override { return inner_.size(); }
  uint32_t alignment() const override { return inner_.alignment(); }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override;
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override;
  Status SubmitFlush(IoCallback done) override;
  Status SubmitResize(uint64_t new_size, IoCallback done) override;

  uint64_t operations() const { return operations_; }  // accepted by the inner device
  uint64_t spikes() const { return spikes_; }          // of those, delayed

 private:
  // Draws this operation's spike and returns the callback to hand to the inner device.
  IoCallback Decorate(IoCallback done, bool& spiked);
  Status Account(Status submitted, bool spiked);

  BlockDevice& inner_;
  Scheduler& scheduler_;
  LatencySpikeConfig config_;
  Prng rng_;
  uint64_t operations_ = 0;
  uint64_t spikes_ = 0;
};

}  // namespace fvd::sim
