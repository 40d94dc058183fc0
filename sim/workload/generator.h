// Workload generators: each phase kind of a VM (boot, random, sequential, database, idle) as a
// source of guest operations. A generator only decides what to do next; the VM driver
// (sim/world/vm.h) decides when, keeps the queue depth, and stops the phase at its duration.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "core/util/prng.h"
#include "sim/config/config.h"

namespace fvd::sim {

struct GuestOp {
  enum Kind { kRead, kWrite, kFlush } kind = kRead;
  uint64_t offset = 0;
  uint64_t length = 0;
};

class Generator {
 public:
  virtual ~Generator() = default;
  // The next operation, or nullopt when the phase has nothing more to do.
  virtual std::optional<GuestOp> Next(Prng& prng) = 0;
  // Pause after each operation completes before the next is issued (boot's think time).
  virtual uint64_t think_time_ns() const { return 0; }
};

// A generator for `phase` over a disk of `disk_bytes`. The phase's `ops` limit is applied here.
std::unique_ptr<Generator> MakeGenerator(const PhaseConfig& phase, uint64_t disk_bytes);

}  // namespace fvd::sim
