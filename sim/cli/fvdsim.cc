// fvdsim: the deterministic FVD simulator.
//   fvdsim run FILE [--seed N] [--swarm] [--print-world PATH] [--json] ...   one world
//   fvdsim explore FILE [--swarm] (--seeds A-B | --time 10m) [-j N]          many seeds
//   fvdsim minimize FILE --seed N [--swarm]                                   a small reproducer
//   fvdsim run FILE --real DIR                                                on real files
//   fvdsim calibrate PATH [-o model.yaml]                                     a disk model
//   fvdsim knobs                                                              the swarm's knobs
// Built a second time as fvdsim_testbugs (tests only), whose --bug NAME turns on one of the
// engine's deliberate bugs (core/image/test_bugs.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "core/util/build_info.h"
#include "sim/calibrate/calibrate.h"
#include "sim/cli/run_command.h"
#include "sim/config/units.h"
#include "sim/explore/explore.h"
#include "sim/explore/minimize.h"
#include "sim/swarm/spec.h"

namespace {

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

#ifdef FVD_TEST_BUGS
constexpr bool kTestBugs = true;
#else
constexpr bool kTestBugs = false;
#endif

void AddBugOption(CLI::App* cmd, std::string& bug) {
  if (kTestBugs) {
    cmd->add_option("--bug", bug,
                    "Turn on a deliberate engine bug (core/image/test_bugs.h), e.g. "
                    "skip_data_flush_before_journal");
  }
}

void AddRun(CLI::App& app, fvd::sim::cli::RunArgs& a, int& exit_code) {
  CLI::App* run = app.add_subcommand("run", "Run a workload file (see workloads/REFERENCE.md)");
  run->add_option("file", a.file, "Workload YAML file")->required()->check(CLI::ExistingFile);
  run->add_option("--seed", a.seed, "Seed (default: the file's seed)");
  run->add_flag("--swarm", a.swarm,
                "Let the seed choose the world too, within the file's swarm: section (or every "
                "default)");
  run->add_option("--print-world", a.print_world,
                  "Write the world that runs as a plain workload file to PATH ('-': print it and "
                  "do not run)");
  run->add_option("--set", a.set,
                  "Set a workload key on every entry of its section, e.g. "
                  "image.journal_size=64KiB or copy_on_read=true (repeatable)");
  run->add_flag("--json", a.json, "Print one JSON object instead of the summary");
  run->add_flag("-q,--quiet", a.quiet, "Print nothing unless a check fails");
  run->add_option("--max-time", a.max_time,
                  "Stop after this much virtual time, like the file's max_time (e.g. 5s)");
  CLI::Option* real =
      run->add_option("--real", a.real_dir,
                      "Run the VMs on real FVD images in this folder (removed after unless "
                      "--keep), on the real clock; no simulated disks or faults");
  run->add_flag("--direct", a.real_direct, "With --real: O_DIRECT on the images and bases")
      ->needs(real);
  run->add_flag("--keep", a.keep, "With --real: leave the images and bases in the folder")
      ->needs(real);
  run->add_flag("--local-bases", a.local_bases,
                "With --real: read bases on network disks as local files (by default nbdkit "
                "serves them with the disk's bandwidth and latency)")
      ->needs(real);
  run->add_option("--report", a.report_dir,
                  "Write a report (Markdown and plots) into DIR/<workload>-<seed>/");
  AddBugOption(run, a.bug);
  run->callback([&] { exit_code = fvd::sim::cli::Run(a); });
}

// explore's options as written, checked when the command runs.
struct ExploreArgs {
  fvd::sim::explore::ExploreOptions options;
  std::string seeds, budget, timeout = "2min";
};

void AddExplore(CLI::App& app, ExploreArgs& args, int& exit_code) {
  fvd::sim::explore::ExploreOptions& o = args.options;
  std::string& seeds = args.seeds;
  std::string& budget = args.budget;
  std::string& timeout = args.timeout;
  CLI::App* ex = app.add_subcommand(
      "explore", "Run many seeds of a workload file in parallel and group the failures");
  ex->add_option("file", o.file, "Workload YAML file")->required()->check(CLI::ExistingFile);
  ex->add_flag("--swarm", o.swarm, "Each seed also chooses its world (fvdsim run --swarm)");
  auto* s = ex->add_option("--seeds", seeds, "Seeds to run, A-B (e.g. 1-1000)");
  auto* t = ex->add_option("--time", budget, "Or: start seeds from 1 for this long (e.g. 10m)");
  s->excludes(t);
  ex->add_option("-j,--jobs", o.jobs, "Runs at once (default: one per core)");
  ex->add_option("--timeout", timeout, "Per seed: a run still going after this is a failure");
  ex->add_option("--max-time", o.max_time, "Passed on to each run");
  ex->add_flag("--first-failure", o.stop_at_first, "Stop starting seeds once one fails");
  ex->add_flag("--json", o.json, "Print one JSON object instead of the summary");
  ex->add_option("--fvdsim", o.self, "The fvdsim each run uses (default: this one)");
  AddBugOption(ex, o.bug);
  ex->callback([&] {
    exit_code = 2;
    if (seeds.empty() == budget.empty()) {
      std::cerr << "fvdsim explore: give --seeds A-B or --time T\n";
      return;
    }
    if (!seeds.empty() && !fvd::sim::explore::ParseSeedRange(seeds, o)) {
      std::cerr << "fvdsim explore: --seeds " << seeds << ": expected A-B with A <= B\n";
      return;
    }
    for (auto [flag, text] : {std::pair{"--time", &budget}, std::pair{"--timeout", &timeout}}) {
      if (text->empty()) continue;
      auto ns = fvd::sim::ParseDuration(*text);
      if (!ns.ok() || *ns == 0) {
        std::cerr << "fvdsim explore: " << flag << " " << *text << ": "
                  << (ns.ok() ? "must be positive" : ns.status().message()) << "\n";
        return;
      }
      if (text == &budget) o.time = std::chrono::nanoseconds(*ns);
      if (text == &timeout)
        o.timeout = std::chrono::milliseconds(std::max<uint64_t>(*ns / 1'000'000, 1));
    }
    exit_code = fvd::sim::explore::Explore(o);
  });
}

void AddMinimize(CLI::App& app, fvd::sim::explore::MinimizeOptions& o, int& exit_code) {
  CLI::App* m = app.add_subcommand(
      "minimize", "Shrink a failing run while it fails the same way; write the smallest world");
  m->add_option("file", o.file, "Workload YAML file")->required()->check(CLI::ExistingFile);
  m->add_option("--seed", o.seed, "The failing seed")->required();
  m->add_flag("--swarm", o.swarm, "The seed chose the world (fvdsim run --swarm)");
  m->add_option("-o,--out", o.out, "Where to write the minimized workload file");
  m->add_option("-j,--jobs", o.jobs, "Runs at once (default: one per core)");
  m->add_option("--max-runs", o.max_runs, "Give up shrinking after this many runs (default 2000)");
  m->add_option("--reseeds", o.reseeds,
                "Once no edit keeps the failure at the world's seed, try each at this many other "
                "seeds (default 32; 0: never)");
  m->add_flag("--json", o.json, "Print one JSON object instead of the summary");
  m->add_option("--fvdsim", o.self, "The fvdsim each run uses (default: this one)");
  AddBugOption(m, o.bug);
  m->callback([&] { exit_code = fvd::sim::explore::Minimize(o); });
}

struct CalibrateArgs {
  fvd::sim::calibrate::CalibrateOptions options;
  std::string size;  // parsed with the workload files' units
  std::string cache = "direct";
};

void AddCalibrate(CLI::App& app, CalibrateArgs& a, int& exit_code) {
  fvd::sim::calibrate::CalibrateOptions& o = a.options;
  CLI::App* c = app.add_subcommand(
      "calibrate", "Measure real storage with fio and write a disk model for workload files");
  c->add_option("path", o.path,
                "A folder (a scratch file is made and removed in it), a new file name, or a "
                "block device with --device")
      ->required();
  c->add_option("-o,--out", o.out, "Where to write the model (default: standard output)");
  c->add_option("--size", a.size, "Scratch file size (default 256MiB)");
  c->add_option("--runtime", o.runtime_s, "Seconds each timed probe runs (default 2)");
  c->add_option("--cache", a.cache, "direct (O_DIRECT, default) or page (the page cache)")
      ->check(CLI::IsMember({"direct", "page"}));
  c->add_flag("--device", o.device, "PATH may be a block device: its data is written over");
  c->add_flag("--json", o.json, "Print what was measured and fitted as JSON");
  c->add_option("--fio", o.fio, "The fio to run (default: fio on PATH)");
  c->callback([&a, &o, &exit_code] {
    o.direct = a.cache == "direct";
    if (!a.size.empty()) {
      auto v = fvd::sim::ParseSize(a.size);
      if (!v.ok()) {
        std::cerr << "fvdsim calibrate: --size " << a.size << ": " << v.status().message() << "\n";
        exit_code = 2;
        return;
      }
      o.size_bytes = *v;
    }
    exit_code = fvd::sim::calibrate::Calibrate(o);
  });
}

void AddKnobs(CLI::App& app, int& exit_code) {
  CLI::App* k = app.add_subcommand(
      "knobs", "Print the swarm's features and knobs with their defaults (Markdown)");
  k->callback([&] {
    std::cout << fvd::sim::swarm::KnobsMarkdown();
    exit_code = 0;
  });
}

}  // namespace

int main(int argc, char** argv) {
  AskMallocForHugePages(argv);
  CLI::App app{
      "fvdsim: a deterministic simulator of FVD images under VM workloads, faults and crashes",
      kTestBugs ? "fvdsim_testbugs" : "fvdsim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fvd::BuildIdentity(app.get_name()));
  int exit_code = 0;
  fvd::sim::cli::RunArgs run;
  ExploreArgs explore;
  fvd::sim::explore::MinimizeOptions minimize;
  AddRun(app, run, exit_code);
  AddExplore(app, explore, exit_code);
  AddMinimize(app, minimize, exit_code);
  CalibrateArgs calibrate;
  AddCalibrate(app, calibrate, exit_code);
  AddKnobs(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << " (see '" << app.get_name() << " --help')\n";
    return 2;
  }
  return exit_code;
}
