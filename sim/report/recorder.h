// Time series of a run for its report: one sample per completed guest operation (time, VM,
// kind, latency, bytes) and the cumulative bytes read from the base-image servers at that
// moment. Recording schedules nothing, so a run with a report has the same events and digest
// as one without.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace fvd::sim {

struct OpSample {
  uint64_t time_ns;
  uint64_t latency_ns;
  uint64_t base_bytes_read;  // all base servers, cumulative
  uint32_t bytes;
  uint16_t vm;
  uint8_t kind;   // GuestOp::Kind
  uint8_t phase;  // index of the VM's phase
};

// Bytes a VM's prefetcher has copied so far (over every open of its image).
struct PrefetchSample {
  uint64_t time_ns;
  uint64_t bytes;
  uint16_t vm;
};

class Recorder {
 public:
  explicit Recorder(std::function<uint64_t()> base_bytes_read)
      : base_bytes_read_(std::move(base_bytes_read)) {}
  void Add(uint64_t time_ns, uint64_t latency_ns, uint32_t bytes, uint16_t vm, uint8_t kind,
           uint8_t phase) {
    samples_.push_back({time_ns, latency_ns, base_bytes_read_(), bytes, vm, kind, phase});
  }
  const std::vector<OpSample>& samples() const { return samples_; }
  void AddPrefetch(uint64_t time_ns, uint64_t bytes, uint16_t vm) {
    prefetch_.push_back({time_ns, bytes, vm});
  }
  const std::vector<PrefetchSample>& prefetch() const { return prefetch_; }
  // Makes every time count from `origin` (a real run records its clock's times).
  void CountFrom(uint64_t origin) {
    for (OpSample& s : samples_) s.time_ns = s.time_ns > origin ? s.time_ns - origin : 0;
    for (PrefetchSample& s : prefetch_) s.time_ns = s.time_ns > origin ? s.time_ns - origin : 0;
  }

 private:
  std::function<uint64_t()> base_bytes_read_;
  std::vector<OpSample> samples_;
  std::vector<PrefetchSample> prefetch_;
};

}  // namespace fvd::sim
