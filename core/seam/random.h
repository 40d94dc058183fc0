// The random source of core/ (the prefetcher's coin). Whoever owns the world seeds it, so
// the simulator can replay a run bit for bit.
#pragma once

#include <cstdint>

#include "core/util/prng.h"

namespace fvd {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual uint64_t NextU64() = 0;
  // Uniform double in [0, 1) from the top 53 bits: the same on every platform.
  double UnitDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
};

// A RandomSource over our seeded PRNG.
class PrngRandomSource final : public RandomSource {
 public:
  explicit PrngRandomSource(uint64_t seed) : prng_(seed) {}
  uint64_t NextU64() override { return prng_.NextU64(); }

 private:
  Prng prng_;
};

}  // namespace fvd
