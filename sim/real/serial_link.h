// The simulator's network link (sim/disk/sim_disk.h's timing, without its queue-depth limit) as
// a schedule on a real clock, for real mode's base server (nbdkit_link_filter.cc): a read
// admitted at time t pays the fixed latency, then its bytes cross the one link after every
// byte admitted before them (transfers are serialized), then a jitter uniform in [0, jitter).
//
// CONTRACT
// - Complete(now, bytes) returns when the read is done: max(now + latency, link free) +
//   bytes / bandwidth + jitter; the link is then busy until that time less the jitter.
// - Pure and deterministic for a seed: times come from the caller; not thread-safe (the filter
//   holds a lock around it).
#pragma once

#include <cstdint>

#include "core/util/prng.h"

namespace fvd::sim::real {

struct LinkModel {
  uint64_t latency_ns = 0;
  uint64_t bytes_per_s = 0;  // 0: no transfer time
  uint64_t jitter_ns = 0;
};

class SerialLink {
 public:
  SerialLink(const LinkModel& model, uint64_t seed) : model_(model), prng_(seed) {}

  uint64_t Complete(uint64_t now_ns, uint64_t bytes) {
    const uint64_t arrive = now_ns + model_.latency_ns;
    const uint64_t start = arrive > free_at_ns_ ? arrive : free_at_ns_;
    const uint64_t transfer = model_.bytes_per_s == 0
                                  ? 0
                                  : static_cast<uint64_t>(static_cast<Uint128>(bytes) *
                                                          1'000'000'000 / model_.bytes_per_s);
    free_at_ns_ = start + transfer;
    return free_at_ns_ + (model_.jitter_ns > 0 ? prng_.Below(model_.jitter_ns) : 0);
  }

 private:
  LinkModel model_;
  Prng prng_;
  uint64_t free_at_ns_ = 0;
};

}  // namespace fvd::sim::real
