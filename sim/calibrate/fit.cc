#include "sim/calibrate/fit.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sim/config/units.h"

namespace fvd::sim::calibrate {
namespace {

constexpr double kNsPerS = 1e9;
constexpr uint32_t kMaxQueueDepth = 32;  // the deepest probe: deeper cannot be told apart

uint64_t Ns(double ns) {
  return static_cast<uint64_t>(std::llround(std::max(ns, 0.0)));
}

}  // namespace

DiskConfig FitModel(const Measured& m) {
  DiskConfig d;
  d.bandwidth_bytes_per_s = static_cast<uint64_t>(std::max(m.seq_read_bytes_per_s, 1.0));
  const double transfer_4k = 4096 * kNsPerS / static_cast<double>(d.bandwidth_bytes_per_s);
  // Uniform jitter in [0, J) has standard deviation J / sqrt(12); it cannot be more than the
  // whole latency.
  const double jitter = std::min(m.read_4k_stddev_ns * std::sqrt(12.0), m.read_4k_ns);
  d.jitter_ns = Ns(jitter);
  d.read_latency_ns = Ns(m.read_4k_ns - transfer_4k - jitter / 2);
  d.write_latency_ns = Ns(m.write_4k_ns - transfer_4k - jitter / 2);
  d.flush_latency_ns = Ns(m.flush_ns);
  if (m.fua_write_4k_ns > 0) {
    d.fua_write_latency_ns = Ns(m.fua_write_4k_ns - transfer_4k - jitter / 2);
  }
  if (m.fresh_write_4k_ns > 0) {
    d.fresh_write_latency_ns = Ns(m.fresh_write_4k_ns - transfer_4k - jitter / 2);
  }
  if (m.fresh_flush_ns > 0) d.fresh_flush_latency_ns = Ns(m.fresh_flush_ns);
  // The time per write at depth 32. Where the queue's slots bind first this is below
  // write_latency / queue_depth and changes nothing.
  if (m.write_4k_qd32_iops > 0) d.write_service_ns = Ns(kNsPerS / m.write_4k_qd32_iops);
  if (m.fresh_write_4k_qd32_iops > 0) {
    d.fresh_write_service_ns = Ns(kNsPerS / m.fresh_write_4k_qd32_iops);
  }
  if (m.fua_write_4k_qd4_iops > 0) d.fua_write_service_ns = Ns(kNsPerS / m.fua_write_4k_qd4_iops);
  if (m.fresh_fua_write_4k_qd4_iops > 0) {
    d.fresh_fua_write_service_ns = Ns(kNsPerS / m.fresh_fua_write_4k_qd4_iops);
  }
  d.host_cost_ns = Ns(m.host_cpu_per_request_ns);
  d.fresh_write_host_cost_ns = Ns(m.fresh_write_host_cpu_ns);
  // A full queue of small reads completes queue_depth of them per mean latency (the link is
  // far from full with 4 KiB each).
  const double slots = m.read_4k_qd32_iops * m.read_4k_ns / kNsPerS;
  d.queue_depth = static_cast<uint32_t>(std::clamp<double>(std::round(slots), 1, kMaxQueueDepth));
  // A flush dearer than a write means writes complete into a cache the flush empties.
  d.volatile_cache = m.flush_ns > m.write_4k_ns;
  return d;
}

std::string ModelYaml(const DiskConfig& d, const std::string& comment) {
  std::ostringstream out;
  std::istringstream lines(comment);
  for (std::string line; std::getline(lines, line);) out << "# " << line << "\n";
  out << "read_latency: " << FormatDuration(d.read_latency_ns) << "\n"
      << "write_latency: " << FormatDuration(d.write_latency_ns) << "\n"
      << "flush_latency: " << FormatDuration(d.flush_latency_ns) << "\n"
      << "fresh_write_latency: " << FormatDuration(d.fresh_write_latency_ns) << "\n"
      << "fresh_flush_latency: " << FormatDuration(d.fresh_flush_latency_ns) << "\n"
      << "fua_write_latency: " << FormatDuration(d.fua_write_latency_ns) << "\n"
      << "write_service: " << FormatDuration(d.write_service_ns) << "\n"
      << "fresh_write_service: " << FormatDuration(d.fresh_write_service_ns) << "\n"
      << "fua_write_service: " << FormatDuration(d.fua_write_service_ns) << "\n"
      << "fresh_fua_write_service: " << FormatDuration(d.fresh_fua_write_service_ns) << "\n"
      << "host_cost: " << FormatDuration(d.host_cost_ns) << "\n"
      << "fresh_write_host_cost: " << FormatDuration(d.fresh_write_host_cost_ns) << "\n"
      << "bandwidth: " << FormatBandwidth(d.bandwidth_bytes_per_s) << "\n"
      << "jitter: " << FormatDuration(d.jitter_ns) << "\n"
      << "queue_depth: " << d.queue_depth << "\n"
      << "volatile_cache: " << (d.volatile_cache ? "true" : "false") << "\n";
  return out.str();
}

}  // namespace fvd::sim::calibrate
