// Our own PRNG: xoshiro256** seeded through splitmix64. Integer-only and specified bit for bit,
// so the same seed gives the same stream with any compiler and standard library (unlike
// std::mt19937 + std::*_distribution). Not for cryptography.
#pragma once

#include <cstdint>

namespace fvd {

// One step of splitmix64: advances `state` and returns a well-mixed 64-bit value. Used to
// expand seeds and to derive sub-seeds.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Derives the seed of sub-component `index` (0, 1, 2, ... in a fixed order) from a parent seed.
inline uint64_t DeriveSeed(uint64_t parent, uint64_t index) {
  uint64_t s = parent ^ (0xD1B54A32D192ED03ull * (index + 1));
  SplitMix64(s);
  return SplitMix64(s);
}

// 64x64 -> 128-bit products for Below(); __extension__ keeps -Wpedantic quiet about __int128,
// which GCC and Clang both provide on every 64-bit target we build for.
__extension__ typedef unsigned __int128 Uint128;

class Prng {
 public:
  explicit Prng(uint64_t seed) {
    uint64_t s = seed;
    for (auto& word : s_) word = SplitMix64(s);
  }

  uint64_t NextU64() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound). REQUIRES: bound > 0. Lemire's nearly-divisionless method, exact.
  uint64_t Below(uint64_t bound) {
    Uint128 m = static_cast<Uint128>(NextU64()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<Uint128>(NextU64()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  uint64_t Between(uint64_t lo, uint64_t hi) {
    if (hi - lo == UINT64_MAX) return NextU64();
    return lo + Below(hi - lo + 1);
  }

  // True with probability numerator / denominator. REQUIRES: denominator > 0.
  bool Chance(uint64_t numerator, uint64_t denominator) { return Below(denominator) < numerator; }

  // Uniform double in [0, 1): the top 53 bits, exactly representable, so it is portable.
  double UnitDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace fvd
