// What touching the guest's bytes costs the simulator, per byte, on this machine: the floor
// its speed is measured against (bench/sim/speed.py turns these into floors per workload).
//
// The seam (ARCHITECTURE.md) moves every byte: a simulated disk's read fills the caller's
// buffer, its write reads the caller's bytes to keep them, a guest's write fills its buffer,
// and the oracle reads every byte a guest reads to check it. So each byte a run moves through
// a device or a guest costs at least one pass over memory. Two kinds of figure:
// - BM_WritePass, BM_ReadPass: the fastest any code touches a cache-resident buffer (memset;
//   an OR of every 8 bytes, four chains): no implementation can go below them.
// - BM_Fill, BM_Tokenize, BM_Hash, BM_Copy: what the simulator does today (a disk read fills
//   token sectors, a cached write keeps its tokens, the oracle's value per sector (SectorHash:
//   a token sector's token, checked over all its bytes), the copy-on-read copy into the
//   guest's buffer).
// Buffers of 4 KiB and 64 KiB, the sizes the shipped workloads use; bytes_per_second is the
// figure speed.py reads.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/util/prng.h"
#include "sim/disk/compact_copy.h"
#include "sim/disk/sector_token.h"
#include "sim/oracle/truth_image.h"

namespace fvd::sim {
namespace {

constexpr uint64_t kSector = kTokenSectorBytes;

// A buffer of token sectors, as guests write and base images hold.
std::vector<std::byte> TokenBuffer(size_t bytes) {
  std::vector<std::byte> buf(bytes);
  Prng p(1);
  for (size_t at = 0; at < bytes; at += kSector) {
    FillTokenSector(NonzeroToken(p.NextU64()), std::span(buf).subspan(at, kSector));
  }
  return buf;
}

void SetBytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_WritePass(benchmark::State& state) {
  std::vector<std::byte> buf(static_cast<size_t>(state.range(0)));
  uint8_t v = 0;
  for (auto _ : state) {
    std::memset(buf.data(), ++v, buf.size());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

// The OR of every 8 bytes of `v` (n vectors, a multiple of 4): 32-byte vectors (GCC's vector
// extension) on four chains. ReadPass uses the AVX2 build when the machine has it, so the
// figure is as fast as this machine reads a cache-resident buffer.
using Vec = uint64_t __attribute__((vector_size(32)));

[[gnu::always_inline]] inline uint64_t OrAllInline(const Vec* v, size_t n) {
  Vec a = {}, b = {}, c = {}, d = {};
  for (size_t i = 0; i + 4 <= n; i += 4) {
    a |= v[i];
    b |= v[i + 1];
    c |= v[i + 2];
    d |= v[i + 3];
  }
  const Vec all = a | b | c | d;
  return all[0] | all[1] | all[2] | all[3];
}
uint64_t OrAll(const Vec* v, size_t n) {
  return OrAllInline(v, n);
}
__attribute__((target("avx2"))) uint64_t OrAllAvx2(const Vec* v, size_t n) {
  return OrAllInline(v, n);
}

void BM_ReadPass(benchmark::State& state) {
  const std::vector<std::byte> buf = TokenBuffer(static_cast<size_t>(state.range(0)));
  const size_t n = buf.size() / sizeof(Vec);
  std::vector<Vec> vecs(n);
  std::memcpy(vecs.data(), buf.data(), buf.size());
  const bool avx2 = __builtin_cpu_supports("avx2");
  for (auto _ : state) {
    benchmark::DoNotOptimize(avx2 ? OrAllAvx2(vecs.data(), n) : OrAll(vecs.data(), n));
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

// A simulated disk's read of token sectors: PageMap::Page fills each sector from its token.
void BM_Fill(benchmark::State& state) {
  std::vector<std::byte> buf(static_cast<size_t>(state.range(0)));
  uint64_t token = 1;
  for (auto _ : state) {
    for (size_t at = 0; at < buf.size(); at += kSector) {
      FillTokenSector(++token, std::span(buf).subspan(at, kSector));
    }
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

// A simulated disk's cached write: the copy keeps each sector's token.
void BM_Tokenize(benchmark::State& state) {
  const std::vector<std::byte> buf = TokenBuffer(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    CompactCopy copy(buf);
    benchmark::DoNotOptimize(copy.tokens().data());
  }
  SetBytes(state);
}

// The oracle: a value per sector of what a guest reads or writes (token sectors: their token).
void BM_Hash(benchmark::State& state) {
  const std::vector<std::byte> buf = TokenBuffer(static_cast<size_t>(state.range(0)));
  std::vector<uint64_t> hashes;
  for (auto _ : state) {
    SectorHashes(buf, hashes);
    benchmark::DoNotOptimize(hashes.data());
  }
  SetBytes(state);
}

// Copy-on-read: the base's bytes copied into the guest's buffer.
void BM_Copy(benchmark::State& state) {
  const std::vector<std::byte> from = TokenBuffer(static_cast<size_t>(state.range(0)));
  std::vector<std::byte> to(from.size());
  for (auto _ : state) {
    std::memcpy(to.data(), from.data(), from.size());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

BENCHMARK(BM_WritePass)->Arg(4096)->Arg(65536);
BENCHMARK(BM_ReadPass)->Arg(4096)->Arg(65536);
BENCHMARK(BM_Fill)->Arg(4096)->Arg(65536);
BENCHMARK(BM_Tokenize)->Arg(4096)->Arg(65536);
BENCHMARK(BM_Hash)->Arg(4096)->Arg(65536);
BENCHMARK(BM_Copy)->Arg(4096)->Arg(65536);

}  // namespace
}  // namespace fvd::sim

BENCHMARK_MAIN();
