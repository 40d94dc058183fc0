#include "sim/calibrate/host_probe.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>

#include "sim/config/yaml_loader.h"
#include "sim/real/real_run.h"

namespace fvd::sim::calibrate {
namespace {

constexpr uint64_t kWrittenRange = uint64_t{64} << 20;

// `fill`: a first phase writing the range sequentially, then random requests, half reads, over
// it; else random writes over the whole image.
std::string ProbeWorkload(uint64_t image_bytes, uint64_t ops, bool fill) {
  const uint64_t range = fill ? std::min(image_bytes, kWrittenRange) : image_bytes;
  const std::string r = std::to_string(range);
  std::string phases;
  if (fill) {
    phases += "      - {kind: sequential, ops: " + std::to_string(range / 65536) +
              ", queue_depth: 8, read_percent: 0%, sizes: 64KiB, range: " + r + "}\n";
  }
  phases += "      - {kind: random, ops: " + std::to_string(ops) +
            ", queue_depth: 8, read_percent: " + (fill ? "50%" : "0%") +
            ", sizes: 4KiB, range: " + r + "}\n";
  return "name: calibrate-host\n"
         "seed: 1\n"
         "max_time: 10min\n"
         "disks: [{name: here, preset: ssd}]\n"
         "vms:\n"
         "  - name: fvd-calibrate-host-probe\n"
         "    disk: here\n"
         "    image: {size: " +
         std::to_string(image_bytes) +
         "}\n"
         "    phases:\n" +
         phases;
}

double ThreadCpuNs() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  const auto ns = [](const timeval& t) { return t.tv_sec * 1e9 + t.tv_usec * 1e3; };
  return ns(u.ru_utime) + ns(u.ru_stime);
}

struct OneRun {
  double cpu_ns = 0, wall_s = 0;
  uint64_t requests = 0;
};

Result<OneRun> RunOnce(const std::string& dir, bool direct, const std::string& workload) {
  FVD_ASSIGN_OR_RETURN(WorkloadConfig config, LoadWorkloadText(workload, "the host probe"));
  real::RealOptions options;
  options.dir = dir;
  options.direct = direct;
  const double cpu0 = ThreadCpuNs();
  const auto wall0 = std::chrono::steady_clock::now();
  auto run = real::RunReal(config, 1, options);
  OneRun r;
  r.cpu_ns = ThreadCpuNs() - cpu0;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (!run.ok()) return run.status().WithContext("the host probe in " + dir);
  if (!run->result.ok() || run->result.timed_out) {
    return Status::Internal("the host probe in " + dir + " did not run clean: " +
                            (run->result.ok() ? "timed out" : run->result.violations.front()));
  }
  for (const VmReport& vm : run->result.vms) {
    const ImageStats& s = vm.image;
    r.requests +=
        s.guest_reads + s.guest_writes + s.journal_writes + s.data_flushes + s.image_flushes;
  }
  return r;
}

// CPU per request from a run with `ops` and one with 2 x `ops` in the measured phase.
Result<double> CpuPerRequest(const std::string& dir, bool direct, uint64_t image_bytes,
                             uint64_t ops, bool fill, OneRun* longer_out) {
  FVD_ASSIGN_OR_RETURN(OneRun shorter, RunOnce(dir, direct, ProbeWorkload(image_bytes, ops, fill)));
  FVD_ASSIGN_OR_RETURN(OneRun longer,
                       RunOnce(dir, direct, ProbeWorkload(image_bytes, 2 * ops, fill)));
  if (longer.requests <= shorter.requests || longer.cpu_ns <= shorter.cpu_ns) {
    return Status::Internal("the host probe in " + dir +
                            " measured no more CPU or requests in its longer run");
  }
  if (longer_out != nullptr) *longer_out = longer;
  return (longer.cpu_ns - shorter.cpu_ns) / static_cast<double>(longer.requests - shorter.requests);
}

}  // namespace

Result<HostProbe> ProbeHost(const std::string& dir, bool direct, uint64_t image_bytes,
                            uint64_t ops) {
  HostProbe p;
  OneRun longer;
  FVD_ASSIGN_OR_RETURN(p.cpu_ns_per_request,
                       CpuPerRequest(dir, direct, image_bytes, ops, /*fill=*/true, &longer));
  FVD_ASSIGN_OR_RETURN(p.fresh_write_cpu_ns,
                       CpuPerRequest(dir, direct, image_bytes, ops, /*fill=*/false, nullptr));
  p.requests = longer.requests;
  p.cpu_s = longer.cpu_ns / 1e9;
  p.wall_s = longer.wall_s;
  return p;
}

}  // namespace fvd::sim::calibrate
