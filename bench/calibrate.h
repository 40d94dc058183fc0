// BM_Calibrate: a fixed piece of pure CPU work that no change to fvd touches (a chain of 256
// dependent multiply-adds). The nightly gate divides every micro-benchmark by it, measured in
// the same run with the repetitions interleaved, so that a machine that is slower tonight
// (other tenants, clock frequency) does not read as a regression. Registered by each
// benchmark binary.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

namespace fvd {

inline void BM_Calibrate(benchmark::State& state) {
  uint64_t x = static_cast<uint64_t>(state.iterations()) | 1;
  for (auto _ : state) {
    for (int i = 0; i < 256; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
    benchmark::DoNotOptimize(x);
  }
}

// Declares the running benchmark tiny: an iteration of a handful of instructions, which a branch,
// a cache line or the code's alignment moves by 10-15% between builds that change none of its
// code (measured: BM_Bitmap_AllSet4K went from 5.92 to 6.78 ns after a commit that touched
// only another library file). The nightly gate reads the label and gives such a figure its
// wider threshold. A declaration, not a measured speed, so the verdict cannot flip with the
// machine's speed or load from one run to the next.
inline constexpr const char* kTinyLabel = "tiny";
inline void DeclareTiny(benchmark::State& state) { state.SetLabel(kTinyLabel); }

}  // namespace fvd
