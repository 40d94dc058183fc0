// Zipf-distributed ranks by rejection-inversion (Hoermann and Derflinger, 1996): O(1) set-up
// and sampling for any number of items. The one floating-point distribution of the simulator
// (STYLE.md #6): kept here, with a golden test, and fed only by our own PRNG.
#pragma once

#include <cstdint>

#include "core/util/prng.h"

namespace fvd::sim {

class ZipfSampler {
 public:
  // Ranks 0 .. n-1, rank 0 the most popular. REQUIRES: n >= 1, theta > 0, theta != 1 is fine too.
  ZipfSampler(uint64_t n, double theta);
  uint64_t Sample(Prng& prng) const;

 private:
  double H(double x) const;
  double HIntegral(double x) const;
  double HIntegralInverse(double x) const;

  uint64_t n_;
  double theta_;
  double h_integral_x1_;
  double h_integral_n_;
  double s_;
};

}  // namespace fvd::sim
