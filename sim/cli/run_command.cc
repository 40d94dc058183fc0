#include "sim/cli/run_command.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "sim/config/units.h"
#include "sim/config/yaml_writer.h"
#include "sim/explore/outcome.h"
#include "sim/report/report.h"
#include "sim/report/summary.h"
#include "sim/swarm/run_world.h"
#ifndef FVD_TEST_BUGS
#include "sim/real/real_run.h"  // not in fvdsim_testbugs: real files use the shipped engine
#endif
#include "sim/world/simulation.h"

namespace fvd::sim::cli {
namespace {

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

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out.empty() ? "none" : out;
}

// One line saying which world ran: where it came from, its size, the features it has on.
std::string WorldLine(const swarm::RunWorld& w, const RunArgs& a) {
  uint64_t vms = 0;
  for (const VmConfig& v : w.config.vms) vms += v.count;
  std::string line = "world: ";
  line += w.swarm ? "drawn by seed " + std::to_string(w.seed) + " (--swarm)"
                  : "as written in " + a.file;
  line += "; " + std::to_string(vms) + " VMs, " + std::to_string(w.config.bases.size()) +
          " bases; features: " + Join(w.features);
  if (!a.print_world.empty() && a.print_world != "-") line += "; written to " + a.print_world;
  return line;
}

Status WriteWorld(const swarm::RunWorld& w, const RunArgs& a) {
  const std::string header = "The world " + ReproduceCommand(a, w.seed) + " runs" +
                             (w.swarm ? " (drawn by the seed)" : "") +
                             ".\nRun it without --swarm: fvdsim run THIS_FILE";
  const std::string text = WriteWorkloadYaml(w.config, header);
  if (a.print_world == "-") {
    std::cout << text;
    return Status::Ok();
  }
  std::ofstream out(a.print_world, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IoError("--print-world " + a.print_world + ": cannot write the file");
  return Status::Ok();
}

nlohmann::ordered_json WorldJson(const swarm::RunWorld& w, const RunArgs& a) {
  nlohmann::ordered_json j;
  j["swarm"] = w.swarm;
  j["features"] = w.features;
  j["file"] = a.print_world.empty() || a.print_world == "-" ? nlohmann::ordered_json(nullptr)
                                                            : nlohmann::ordered_json(a.print_world);
  if (w.swarm) j["yaml"] = WriteWorkloadYaml(w.config);
  return j;
}

Status ApplyBug(const RunArgs& a, SimOptions& options) {
  if (a.bug.empty()) return Status::Ok();
#ifdef FVD_TEST_BUGS
  if (SetTestBug(a.bug, options.bugs)) return Status::Ok();
  std::string names;
  for (const TestBugName& b : kTestBugNames)
    names += (names.empty() ? "" : ", ") + std::string(b.name);
  return Status::InvalidArgument("--bug " + a.bug + ": no such bug (known: " + names + ")");
#else
  (void)options;
  return Status::InvalidArgument("--bug: only fvdsim_testbugs, a test build, has deliberate bugs");
#endif
}

}  // namespace

std::string ReproduceCommand(const RunArgs& a, uint64_t seed) {
  std::string cmd = explore::ReproduceCommand(a.file, seed, a.swarm, a.max_time, a.bug);
  if (!a.real_dir.empty()) {
    cmd += " --real " + a.real_dir + (a.real_direct ? " --direct" : "") +
           (a.local_bases ? " --local-bases" : "");
  }
  return cmd;
}

int Run(const RunArgs& a) {
  std::vector<Override> overrides;
  for (const std::string& text : a.set) {
    auto o = ParseOverride(text);
    if (!o.ok()) {
      std::cerr << "fvdsim: " << o.status().message() << "\n";
      return 2;
    }
    overrides.push_back(*o);
  }
  auto world = swarm::LoadRunWorld(a.file, a.seed, a.swarm, overrides);
  if (!world.ok()) {
    std::cerr << "fvdsim: " << world.status().message() << "\n";
    return 2;
  }
  if (!a.max_time.empty()) {
    auto ns = ParseDuration(a.max_time);
    if (!ns.ok() || *ns == 0) {
      std::cerr << "fvdsim: --max-time " << a.max_time << ": "
                << (ns.ok() ? std::string("must be positive") : ns.status().message()) << "\n";
      return 2;
    }
    world->config.max_time_ns = *ns;
  }
  SimOptions options;
  if (Status s = ApplyBug(a, options); !s.ok()) {
    std::cerr << "fvdsim: " << s.message() << "\n";
    return 2;
  }
  if (!a.print_world.empty()) {
    if (Status s = WriteWorld(*world, a); !s.ok()) {
      std::cerr << "fvdsim: " << s.message() << "\n";
      return 2;
    }
    if (a.print_world == "-") return 0;
  }
  const uint64_t seed = world->seed;
  const Recorder* recorder = nullptr;
  SimResult r;
  std::unique_ptr<Simulation> sim_holder;   // the recorder lives in the simulation
  std::unique_ptr<Recorder> real_recorder;  // a real run's time series
  if (!a.real_dir.empty()) {
#ifdef FVD_TEST_BUGS
    std::cerr << "fvdsim: --real runs the shipped engine: use fvdsim, not fvdsim_testbugs\n";
    return 2;
#else
    // A swarm world is not what the file says: no lines to name in it.
    auto real = real::RunReal(world->config, seed,
                              {a.real_dir, a.real_direct, a.keep, a.local_bases,
                               a.swarm ? "" : a.file, !a.report_dir.empty()});
    if (!real.ok()) {
      const std::string& m = real.status().message();
      std::cerr << "fvdsim: " << (m.rfind(a.file + ":", 0) == 0 ? "" : a.file + ": ") << m << "\n";
      return 2;
    }
    r = std::move(real->result);
    real_recorder = std::move(real->recorder);
    recorder = real_recorder.get();
#endif
  } else {
    auto sim = Simulation::Build(world->config, seed, options);
    if (!sim.ok()) {
      std::cerr << "fvdsim: " << a.file << ": " << sim.status().ToString() << "\n";
      return 2;
    }
    sim_holder = std::move(*sim);
    if (!a.report_dir.empty()) recorder = &sim_holder->EnableRecording();
    Progress progress(!a.json && !a.quiet && isatty(STDERR_FILENO));
    r = sim_holder->Run([&](double f) { progress.Update(f); });
    progress.Done();
  }
  const std::string name = world->config.name.empty() ? a.file : world->config.name;
  if (recorder != nullptr) {
    const std::string dir = a.report_dir + "/" + name + "-" + std::to_string(seed);
    std::string warning;
    const Status s = WriteReport(dir, name, r, *recorder, warning, !a.real_dir.empty());
    if (!s.ok()) std::cerr << "fvdsim: report: " << s.ToString() << "\n";
    if (!warning.empty()) std::cerr << "fvdsim: report: " << warning << "\n";
    if (s.ok() && !a.json) std::cerr << "fvdsim: report written to " << dir << "/report.md\n";
  }
  if (a.json) {
    nlohmann::ordered_json j = ResultToJson(r, name);
    j["world"] = WorldJson(*world, a);
    std::cout << j.dump(2) << "\n";
  } else if (!a.quiet || !r.ok()) {
    std::cout << ResultToText(r, name) << WorldLine(*world, a) << "\n";
  }
  if (!r.ok()) {
    std::cerr << "fvdsim: " << r.violations.front() << "\n"
              << "fvdsim: " << WorldLine(*world, a) << "\n"
              << "reproduce: " << ReproduceCommand(a, seed) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace fvd::sim::cli
