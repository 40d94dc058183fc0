#include "sim/report/summary.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace fvd::sim {
namespace {

double Us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}
double Seconds(uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

nlohmann::ordered_json PhasesJson(const VmStats& s) {
  auto out = nlohmann::ordered_json::array();
  for (const PhaseStats& p : s.phases) {
    out.push_back({{"kind", p.kind},
                   {"start_s", Seconds(p.start_ns)},
                   {"duration_s", Seconds(p.end_ns - p.start_ns)},
                   {"reads", p.reads},
                   {"writes", p.writes},
                   {"base_bytes_read", p.base_bytes_read},
                   {"read_p99_us", Us(p.read_p99_ns)}});
  }
  return out;
}

nlohmann::ordered_json VmJson(const VmReport& v) {
  const VmStats& s = v.stats;
  const double secs = Seconds(s.end_ns > s.start_ns ? s.end_ns - s.start_ns : 0);
  return {
      {"name", v.name},
      {"reads", s.reads},
      {"writes", s.writes},
      {"flushes", s.flushes},
      {"failed_ops", s.failed_ops},
      {"crashes_survived", s.crashes},
      {"bytes_read", s.bytes_read},
      {"bytes_written", s.bytes_written},
      {"throughput_mib_s",
       secs > 0 ? static_cast<double>(s.bytes_read + s.bytes_written) / secs / (1 << 20) : 0.0},
      {"read_p50_us", Us(s.read_latency.Percentile(50))},
      {"read_p99_us", Us(s.read_latency.Percentile(99))},
      {"read_max_us", Us(s.read_latency.Max())},
      {"write_p50_us", Us(s.write_latency.Percentile(50))},
      {"write_p99_us", Us(s.write_latency.Percentile(99))},
      {"write_max_us", Us(s.write_latency.Max())},
      {"flush_p99_us", Us(s.flush_latency.Percentile(99))},
      {"base_bytes_read", s.base_bytes_read},
      {"copy_on_read_bytes", s.copy_on_read_bytes},
      {"prefetch_bytes", s.prefetch_bytes},
      {"prefetch_profile_bytes", s.prefetch_profile_bytes},
      {"prefetch_finished_s", s.prefetch_finished_ns >= 0
                                  ? nlohmann::ordered_json(Seconds(s.prefetch_finished_ns))
                                  : nlohmann::ordered_json(nullptr)},
      {"prefetch_started_s", s.prefetch_started_ns >= 0
                                 ? nlohmann::ordered_json(Seconds(s.prefetch_started_ns))
                                 : nlohmann::ordered_json(nullptr)},
      {"prefetch_pauses", s.prefetch_pauses},
      {"prefetch_backoffs", s.prefetch_backoffs},
      {"prefetch_resets", s.prefetch_resets},
      {"last_guest_base_read_s", s.last_guest_base_read_ns >= 0
                                     ? nlohmann::ordered_json(Seconds(s.last_guest_base_read_ns))
                                     : nlohmann::ordered_json(nullptr)},
      {"phases", PhasesJson(s)},
      {"allocating_writes", v.image.allocating_writes},
      {"journal_sector_writes", v.image.journal_sector_writes},
      {"journal_writes", v.image.journal_writes},
      {"journal_recycles", v.image.journal_recycles},
      {"journal_recycle_wait_ms", static_cast<double>(v.image.journal_recycle_wait_ns) / 1e6},
      {"image_flushes", v.image.image_flushes},
      {"data_flushes", v.image.data_flushes},
      {"recovery_max_ms", static_cast<double>(s.recovery_ns_max) / 1e6},
      {"journal_replayed_sectors", s.replayed_sectors}};
}

}  // namespace

nlohmann::ordered_json ResultToJson(const SimResult& r, const std::string& workload) {
  nlohmann::ordered_json j;
  j["workload"] = workload;
  j["seed"] = r.seed;
  j["digest"] = Hex(r.digest);
  j["sim_time_s"] = Seconds(r.sim_time_ns);
  j["wall_time_s"] = Seconds(r.wall_time_ns);
  j["events"] = r.events;
  j["crashes"] = r.crashes;
  j["timed_out"] = r.timed_out;
  j["violations"] = r.violations;
  // What broke and where (sim/world/failure.h): the first violation's, and every one's.
  j["signature"] = r.signatures.empty() ? nlohmann::ordered_json(nullptr)
                                        : nlohmann::ordered_json(r.signatures.front());
  j["signatures"] = r.signatures;
  j["crash_schedule_ns"] = r.crash_schedule_ns;
  j["notes"] = r.notes;
  LatencyLog reads, writes;
  for (const VmReport& v : r.vms) {
    reads.Append(v.stats.read_latency);
    writes.Append(v.stats.write_latency);
  }
  j["read_p99_us"] = Us(reads.Percentile(99));  // over every VM's guest reads
  j["write_p99_us"] = Us(writes.Percentile(99));
  j["vms"] = nlohmann::ordered_json::array();
  for (const VmReport& v : r.vms) j["vms"].push_back(VmJson(v));
  j["disks"] = nlohmann::ordered_json::array();
  for (const DiskReport& d : r.disks) {
    j["disks"].push_back({{"name", d.name},
                          {"reads", d.stats.reads},
                          {"writes", d.stats.writes},
                          {"flushes", d.stats.flushes},
                          {"bytes_read", d.stats.bytes_read},
                          {"bytes_written", d.stats.bytes_written},
                          {"busy_s", Seconds(d.stats.busy_ns)},
                          {"bandwidth_bytes_per_s", d.bandwidth_bytes_per_s}});
  }
  j["bases"] = nlohmann::ordered_json::array();
  for (const BaseImageConfig& b : r.bases) {
    j["bases"].push_back({{"name", b.name}, {"disk", b.disk}, {"size_bytes", b.size_bytes}});
  }
  return j;
}

std::string ResultToText(const SimResult& r, const std::string& workload) {
  std::ostringstream out;
  char line[256];
  std::snprintf(
      line, sizeof line,
      "%s: seed %" PRIu64 ", %.3f s simulated in %.3f s (%.0fx), %" PRIu64 " events, digest %s\n",
      workload.c_str(), r.seed, Seconds(r.sim_time_ns), Seconds(r.wall_time_ns),
      r.wall_time_ns > 0 ? static_cast<double>(r.sim_time_ns) / static_cast<double>(r.wall_time_ns)
                         : 0.0,
      r.events, Hex(r.digest).c_str());
  out << line;
  out << "  vm              reads   writes  flushes  MiB/s   read p50/p99/max us       write "
         "p50/p99/max us      crashes\n";
  for (const VmReport& v : r.vms) {
    const auto j = VmJson(v);
    std::snprintf(line, sizeof line,
                  "  %-14s %7" PRIu64 " %8" PRIu64 " %8" PRIu64
                  " %6.1f   %7.0f/%7.0f/%7.0f   %7.0f/%7.0f/%7.0f  %7" PRIu64 "\n",
                  v.name.c_str(), v.stats.reads, v.stats.writes, v.stats.flushes,
                  j["throughput_mib_s"].get<double>(), j["read_p50_us"].get<double>(),
                  j["read_p99_us"].get<double>(), j["read_max_us"].get<double>(),
                  j["write_p50_us"].get<double>(), j["write_p99_us"].get<double>(),
                  j["write_max_us"].get<double>(), v.stats.crashes);
    out << line;
  }
  for (const VmReport& v : r.vms) {
    const VmStats& s = v.stats;
    if (s.base_bytes_read == 0 && s.prefetch_bytes == 0) continue;
    std::snprintf(line, sizeof line,
                  "  %-14s base read %.1f MiB (copy-on-read %.1f MiB, prefetch %.1f MiB)",
                  v.name.c_str(), static_cast<double>(s.base_bytes_read) / (1 << 20),
                  static_cast<double>(s.copy_on_read_bytes) / (1 << 20),
                  static_cast<double>(s.prefetch_bytes) / (1 << 20));
    out << line;
    if (s.prefetch_finished_ns >= 0) {
      std::snprintf(line, sizeof line, "; self-contained at %.3f s",
                    Seconds(s.prefetch_finished_ns));
      out << line;
    }
    if (s.prefetch_pauses + s.prefetch_resets > 0) {
      std::snprintf(line, sizeof line, "; throttle coin %" PRIu64 " pauses, %" PRIu64 " resets",
                    s.prefetch_pauses, s.prefetch_resets);
      out << line;
    }
    out << "\n";
  }
  if (r.timed_out) out << "  note: stopped at max_time before every phase finished\n";
  for (const std::string& note : r.notes) out << "  note: " << note << "\n";
  if (r.ok()) {
    out << "oracle: every check passed (" << r.crashes << " crashes recovered)\n";
  } else {
    out << "oracle: " << r.violations.size() << " violations (first: " << r.signatures.front()
        << ")\n";
    for (size_t i = 0; i < r.violations.size() && i < 20; ++i)
      out << "  " << r.violations[i] << "\n";
  }
  return out.str();
}

}  // namespace fvd::sim
