#include "sim/calibrate/host_probe.h"

#include <sys/resource.h>

#include <chrono>

#include "sim/config/yaml_loader.h"
#include "sim/real/real_run.h"

namespace fvd::sim::calibrate {
namespace {

std::string ProbeWorkload(uint64_t image_bytes, uint64_t ops) {
  const std::string size = std::to_string(image_bytes);
  return "name: calibrate-host\n"
         "seed: 1\n"
         "max_time: 10min\n"
         "disks:\n"
         "  - name: here\n"
         "    preset: ssd\n"
         "vms:\n"
         "  - name: fvd-calibrate-host-probe\n"
         "    disk: here\n"
         "    image:\n"
         "      size: " +
         size +
         "\n"
         "    phases:\n"
         "      - kind: random\n"
         "        ops: " +
         std::to_string(ops) +
         "\n"
         "        queue_depth: 8\n"
         "        read_percent: 50%\n"
         "        sizes: {4KiB: 100}\n"
         "        range: " +
         size + "\n";
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

Result<OneRun> RunOnce(const std::string& dir, bool direct, uint64_t image_bytes, uint64_t ops) {
  FVD_ASSIGN_OR_RETURN(WorkloadConfig config,
                       LoadWorkloadText(ProbeWorkload(image_bytes, ops), "the host probe"));
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

}  // namespace

Result<HostProbe> ProbeHost(const std::string& dir, bool direct, uint64_t image_bytes,
                            uint64_t ops) {
  FVD_ASSIGN_OR_RETURN(OneRun shorter, RunOnce(dir, direct, image_bytes, ops));
  FVD_ASSIGN_OR_RETURN(OneRun longer, RunOnce(dir, direct, image_bytes, 2 * ops));
  if (longer.requests <= shorter.requests || longer.cpu_ns <= shorter.cpu_ns) {
    return Status::Internal("the host probe in " + dir +
                            " measured no more CPU or requests in its longer run");
  }
  HostProbe p;
  p.cpu_ns_per_request =
      (longer.cpu_ns - shorter.cpu_ns) / static_cast<double>(longer.requests - shorter.requests);
  p.requests = longer.requests;
  p.cpu_s = longer.cpu_ns / 1e9;
  p.wall_s = longer.wall_s;
  return p;
}

}  // namespace fvd::sim::calibrate
