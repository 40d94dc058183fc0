// fvdsim: the deterministic FVD simulator. `fvdsim run workload.yaml [--seed N] [--json]`.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "sim/config/units.h"
#include "sim/config/yaml_loader.h"
#include "sim/report/report.h"
#include "sim/report/summary.h"
#include "sim/world/simulation.h"

namespace {

struct RunArgs {
  std::string file;
  std::optional<uint64_t> seed;
  bool json = false;
  bool quiet = false;
  std::string report_dir;  // "" = no report
  std::string max_time;    // "" = the file's max_time
};

// A one-line progress bar on stderr, only on a terminal.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void Update(double fraction) {
    if (!enabled_) return;
    const int width = 40, filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r[%-*s] %3d%%", width,
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 static_cast<int>(fraction * 100));
    std::fflush(stderr);
  }
  void Done() {
    if (enabled_) std::fprintf(stderr, "\r%*s\r", 50, "");
  }

 private:
  bool enabled_;
};

int Run(const RunArgs& a) {
  auto config = fvd::sim::LoadWorkloadFile(a.file);
  if (!config.ok()) {
    std::cerr << "fvdsim: " << config.status().message() << "\n";
    return 2;
  }
  if (!a.max_time.empty()) {
    auto ns = fvd::sim::ParseDuration(a.max_time);
    if (!ns.ok() || *ns == 0) {
      std::cerr << "fvdsim: --max-time " << a.max_time << ": "
                << (ns.ok() ? std::string("must be positive") : ns.status().message()) << "\n";
      return 2;
    }
    config->max_time_ns = *ns;
  }
  const uint64_t seed = a.seed.value_or(config->seed);
  auto sim = fvd::sim::Simulation::Build(*config, seed);
  if (!sim.ok()) {
    std::cerr << "fvdsim: " << a.file << ": " << sim.status().ToString() << "\n";
    return 2;
  }
  const fvd::sim::Recorder* recorder = nullptr;
  if (!a.report_dir.empty()) recorder = &(*sim)->EnableRecording();
  Progress progress(!a.json && !a.quiet && isatty(STDERR_FILENO));
  const fvd::sim::SimResult r = (*sim)->Run([&](double f) { progress.Update(f); });
  progress.Done();
  const std::string name = config->name.empty() ? a.file : config->name;
  if (recorder != nullptr) {
    const std::string dir = a.report_dir + "/" + name + "-" + std::to_string(seed);
    std::string warning;
    const fvd::Status s = fvd::sim::WriteReport(dir, name, r, *recorder, warning);
    if (!s.ok()) std::cerr << "fvdsim: report: " << s.ToString() << "\n";
    if (!warning.empty()) std::cerr << "fvdsim: report: " << warning << "\n";
    if (s.ok() && !a.json) std::cerr << "fvdsim: report written to " << dir << "/report.md\n";
  }
  if (a.json) {
    std::cout << fvd::sim::ResultToJson(r, name).dump(2) << "\n";
  } else if (!a.quiet || !r.ok()) {
    std::cout << fvd::sim::ResultToText(r, name);
  }
  if (!r.ok()) {
    std::cerr << "fvdsim: " << r.violations.front() << "\n"
              << "reproduce: fvdsim run " << a.file << " --seed " << seed << "\n";
    return 1;
  }
  return 0;
}

// Page faults are dear on virtual machines: on this project's 2-core VM a simulated boot spent
// a fifth of its time in them, and glibc's malloc backed by transparent huge pages ran boot.yaml
// and random-rw.yaml in half the CPU time. Blocks up to 32 MiB (the hash tables as they double)
// also come from the heap and stay there when freed, instead of being mapped, zeroed by the
// kernel and unmapped each time (wall time: boot 0.13 -> 0.09 s, random-rw -15%, big-disk
// 2.1 -> 1.5 s). glibc reads its tunables only at process start, so this sets them and
// re-executes the program once. A GLIBC_TUNABLES already set (even empty) is left alone: that
// is also how to turn this off (valgrind, for one, loses a re-executed child unless it traces
// children).
void AskMallocForHugePages(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  constexpr const char* kTunables =
      "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:"
      "glibc.malloc.trim_threshold=1073741824";
  if (::setenv("GLIBC_TUNABLES", kTunables, 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  ::unsetenv("GLIBC_TUNABLES");  // the exec failed: run as we are
}

}  // namespace

int main(int argc, char** argv) {
  AskMallocForHugePages(argv);
  CLI::App app{
      "fvdsim: a deterministic simulator of FVD images under VM workloads, faults and crashes",
      "fvdsim"};
  app.require_subcommand(1);
  RunArgs args;
  int exit_code = 0;
  CLI::App* run = app.add_subcommand("run", "Run a workload file (see workloads/REFERENCE.md)");
  run->add_option("file", args.file, "Workload YAML file")->required()->check(CLI::ExistingFile);
  run->add_option("--seed", args.seed, "Seed (default: the file's seed)");
  run->add_flag("--json", args.json, "Print one JSON object instead of the summary");
  run->add_flag("-q,--quiet", args.quiet, "Print nothing unless a check fails");
  run->add_option("--max-time", args.max_time,
                  "Stop after this much virtual time, like the file's max_time (e.g. 5s)");
  run->add_option("--report", args.report_dir,
                  "Write a report (Markdown and plots) into DIR/<workload>-<seed>/");
  run->callback([&] { exit_code = Run(args); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "fvdsim: " << e.what() << " (see 'fvdsim run --help')\n";
    return 2;
  }
  return exit_code;
}
