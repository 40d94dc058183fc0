// The named disk models. Every figure is a "typical" round number for its class of device (vendor
// data sheets and common benchmarks agree within a factor of two or so), not a measurement of any
// one product: the point is realistic ratios between reads, writes, flushes and transfers.
#include <cstdint>
#include <string>

#include "sim/config/config.h"

namespace fvd::sim {
namespace {

// What `fvdsim calibrate` measures on a real device and no preset models: fresh space, FUA,
// services at depth, the host's share. A preset leaves none of them from a model it replaces.
void ClearMeasuredTerms(DiskConfig& m) {
  m.fresh_write_latency_ns = 0;
  m.fresh_flush_latency_ns = 0;
  m.fua_write_latency_ns = 0;
  m.write_service_ns = 0;
  m.fresh_write_service_ns = 0;
  m.fua_write_service_ns = 0;
  m.fresh_fua_write_service_ns = 0;
  m.host_cost_ns = 0;
  m.fresh_write_host_cost_ns = 0;
}

// A local NVMe/SATA SSD: typical 80 us read, 20 us write into its cache, 200 us cache flush,
// 500 MB/s, 32 commands in service, and a volatile write cache.
void ApplySsd(DiskConfig& m) {
  m.read_latency_ns = 80'000;
  m.write_latency_ns = 20'000;
  m.flush_latency_ns = 200'000;
  ClearMeasuredTerms(m);
  m.bandwidth_bytes_per_s = 500'000'000;
  m.jitter_ns = 8'000;  // typical: 10% of the read latency
  m.queue_depth = 32;
  m.volatile_cache = true;
  m.seek_ns_per_gib = 0;
  m.max_seek_ns = 0;
  m.shared_bandwidth = false;
}

// A 7200 rpm HDD: typical 4 ms read and write (rotation plus a short seek), 8 ms flush,
// 150 MB/s, 4 commands in service, a volatile cache, and a seek of about 1 ms per 10 GiB of
// head movement capped at a full stroke of 10 ms.
void ApplyHdd(DiskConfig& m) {
  m.read_latency_ns = 4'000'000;
  m.write_latency_ns = 4'000'000;
  m.flush_latency_ns = 8'000'000;
  ClearMeasuredTerms(m);
  m.bandwidth_bytes_per_s = 150'000'000;
  m.jitter_ns = 200'000;  // typical: 5% of the fixed latency
  m.queue_depth = 4;
  m.volatile_cache = true;
  m.seek_ns_per_gib = 100'000;
  m.max_seek_ns = 10'000'000;
  m.shared_bandwidth = false;
}

// A base-image server reached over 1 Gbit/s (125,000,000 B/s) and shared by many VMs: typical
// 500 us per request round trip, 64 requests in flight. No volatile cache: the base image is
// read-only in practice, and a write the server acknowledges is on its stable storage.
void ApplyNetwork(DiskConfig& m) {
  m.read_latency_ns = 500'000;
  m.write_latency_ns = 500'000;
  m.flush_latency_ns = 500'000;
  ClearMeasuredTerms(m);
  m.bandwidth_bytes_per_s = 125'000'000;
  m.jitter_ns = 50'000;  // typical: 10% of the round trip
  m.queue_depth = 64;
  m.volatile_cache = false;
  m.seek_ns_per_gib = 0;
  m.max_seek_ns = 0;
  m.shared_bandwidth = true;
}

}  // namespace

// Sets the timing fields of `model` (not its name or size). "" names no preset: the model's own
// fields stand, so it is accepted and nothing changes.
bool ApplyPreset(const std::string& preset, DiskConfig& model) {
  if (preset.empty()) return true;
  if (preset == "ssd") {
    ApplySsd(model);
  } else if (preset == "hdd") {
    ApplyHdd(model);
  } else if (preset == "network") {
    ApplyNetwork(model);
  } else {
    return false;
  }
  model.preset = preset;
  return true;
}

}  // namespace fvd::sim
