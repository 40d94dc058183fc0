#include "sim/explore/minimize.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sim/config/units.h"
#include "sim/config/yaml_writer.h"
#include "sim/explore/child.h"
#include "sim/explore/edits.h"
#include "sim/explore/outcome.h"
#include "sim/swarm/run_world.h"

namespace fvd::sim::explore {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Runs candidate worlds in child processes, each from a file of its own in a scratch folder.
class Runner {
 public:
  Runner(const MinimizeOptions& o, fs::path scratch, unsigned jobs)
      : o_(o), scratch_(std::move(scratch)), pool_(jobs) {}

  // The outcomes of `worlds`, run side by side, in their order.
  std::vector<Outcome> RunAll(const std::vector<WorkloadConfig>& worlds) {
    std::vector<Outcome> out(worlds.size());
    size_t next = 0;
    while (next < worlds.size() || pool_.running() > 0) {
      while (next < worlds.size() && pool_.running() < pool_.capacity()) {
        const fs::path file = scratch_ / ("candidate-" + std::to_string(runs_) + ".yaml");
        std::ofstream(file, std::ios::binary) << WriteWorkloadYaml(worlds[next]);
        std::vector<std::string> argv = {o_.self, "run", file.string(), "--json"};
        if (!o_.bug.empty()) argv.insert(argv.end(), {"--bug", o_.bug});
        ++runs_;
        if (Status s = pool_.Start(next, argv, timeout); !s.ok()) {
          out[next].verdict = Verdict::kRefused;
          out[next].message = s.message();
        }
        ++next;
      }
      if (pool_.running() == 0) continue;
      const ChildResult r = pool_.Next();
      out[r.id] = Classify(r);
    }
    return out;
  }

  unsigned runs() const { return runs_; }
  milliseconds timeout{30'000};

 private:
  const MinimizeOptions& o_;
  fs::path scratch_;
  ChildPool pool_;
  unsigned runs_ = 0;
};

struct Shrink {
  WorkloadConfig world;
  std::string signature;
  uint64_t events = 0;
  std::vector<std::string> removed;
  std::vector<std::vector<uint64_t>> crash_schedule_ns;  // of the last run kept
  std::function<void(const std::string&)> say;           // progress, one line each

  void Keep(WorkloadConfig w, const Outcome& o, std::string what) {
    world = std::move(w);
    events = o.events;
    crash_schedule_ns = o.crash_schedule_ns;
    Record(std::move(what));
  }
  // A change kept (the world already holds it): listed, and said.
  void Record(std::string what) {
    if (say) say("kept: " + what + ", " + std::to_string(events) + " events");
    removed.push_back(std::move(what));
  }
};

// Random crashes as the explicit times the run drew for them (every entry at once: they share
// one stream), so that the edits can drop them one by one. The same run, if the schedule is
// the one the last kept run reported.
bool ExplicitCrashTimes(const Shrink& s, WorkloadConfig& w) {
  if (s.crash_schedule_ns.size() != w.crashes.size()) return false;
  bool any = false;
  for (size_t i = 0; i < w.crashes.size(); ++i) {
    if (w.crashes[i].random_per_hour == 0) continue;
    w.crashes[i].random_per_hour = 0;
    w.crashes[i].at_ns = s.crash_schedule_ns[i];
    any = true;
  }
  // An entry left with no trigger at all goes (its crashes never came).
  std::erase_if(w.crashes, [](const CrashConfig& c) {
    return c.at_ns.empty() && c.after_ops == 0 && c.random_per_hour == 0;
  });
  return any;
}

// The earliest max_time at which it still fails the same way, by bisection. True if earlier.
bool ShrinkTime(Runner& runner, Shrink& s, unsigned max_runs) {
  uint64_t lo = 0, hi = s.world.max_time_ns;
  const uint64_t before = hi;
  while (hi - lo > std::max<uint64_t>(hi / 64, 1'000'000) && runner.runs() < max_runs) {
    WorkloadConfig c = s.world;
    c.max_time_ns = lo + (hi - lo) / 2;
    const Outcome o = runner.RunAll({c}).front();
    if (o.signature == s.signature) {
      hi = c.max_time_ns;
      s.world = c;
      s.events = o.events;
      s.crash_schedule_ns = o.crash_schedule_ns;
    } else {
      lo = c.max_time_ns;
    }
  }
  if (hi == before) return false;
  s.Record("max_time " + FormatDuration(before) + " -> " + FormatDuration(hi));
  return true;
}

// One pass over the edits, `jobs` candidates at a time; the first (in list order) that still
// fails the same way is kept, and the list is made again from the smaller world, going on from
// where that edit stood. With `reseeds` > 0 each edit is tried at the `reseeds` seeds after the
// world's own instead, and the pass ends at the first kept (a plain pass is cheaper). True if an
// edit was kept.
bool EditPass(Runner& runner, Shrink& s, unsigned jobs, unsigned max_runs, unsigned reseeds) {
  const unsigned per_edit = reseeds == 0 ? 1 : reseeds;
  bool kept = false;
  size_t i = 0;  // the next candidate: edit i at seed offset k
  unsigned k = 0;
  for (;;) {
    const std::vector<Edit> edits = Edits(s.world);
    std::vector<WorkloadConfig> batch;
    std::vector<size_t> which;
    while (i < edits.size() && batch.size() < jobs) {
      WorkloadConfig c = s.world;
      const bool applies = edits[i].apply(c) && !(c == s.world);
      if (applies) {
        if (reseeds != 0) c.seed = s.world.seed + 1 + k;
        batch.push_back(std::move(c));
        which.push_back(i);
      }
      if (!applies || ++k == per_edit) {
        ++i;
        k = 0;
      }
    }
    if (batch.empty() || runner.runs() >= max_runs) return kept;
    const std::vector<Outcome> outcomes = runner.RunAll(batch);
    for (size_t n = 0; n < batch.size(); ++n) {
      if (outcomes[n].signature != s.signature) continue;
      std::string what = edits[which[n]].what;
      if (reseeds != 0) what += " (at seed " + std::to_string(batch[n].seed) + ")";
      s.Keep(std::move(batch[n]), outcomes[n], std::move(what));
      if (reseeds != 0) return true;
      kept = true;
      i = which[n];  // the list is made again; what followed this edit now sits here
      k = 0;
      break;
    }
  }
}

// Plain passes until none keeps an edit, then a pass at other seeds, and again, until that
// keeps nothing either (or the runs are spent).
void ShrinkStructure(Runner& runner, Shrink& s, unsigned jobs, unsigned max_runs,
                     unsigned reseeds) {
  while (runner.runs() < max_runs) {
    if (WorkloadConfig c = s.world; ExplicitCrashTimes(s, c)) {
      const Outcome o = runner.RunAll({c}).front();
      if (o.signature == s.signature) s.Keep(std::move(c), o, "random crashes at the times drawn");
    }
    if (EditPass(runner, s, jobs, max_runs, 0)) continue;
    // The edits kept may have moved the failure earlier; a shorter run lets edits keep it that
    // could not before (the part of the run they changed no longer comes).
    if (ShrinkTime(runner, s, max_runs)) continue;
    if (reseeds == 0) return;
    if (s.say) {
      s.say("no edit keeps it at seed " + std::to_string(s.world.seed) + ": trying each at the " +
            std::to_string(reseeds) + " seeds after it");
    }
    if (!EditPass(runner, s, jobs, max_runs, reseeds)) return;
  }
}

std::string DefaultOut(const MinimizeOptions& o) {
  return fs::path(o.file).stem().string() + "-seed" + std::to_string(o.seed) + "-min.yaml";
}

void Print(const MinimizeOptions& o, const Shrink& s, uint64_t events_before,
           const std::string& out, unsigned runs) {
  if (o.json) {
    nlohmann::ordered_json j = {
        {"signature", s.signature},  {"seed", o.seed},       {"file", out},
        {"file_seed", s.world.seed}, {"removed", s.removed}, {"events_before", events_before},
        {"events_after", s.events},  {"runs", runs}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("minimize: %s, seed %llu: %s\n", o.file.c_str(),
              static_cast<unsigned long long>(o.seed), s.signature.c_str());
  std::printf("minimize: %zu changes kept in %u runs:\n", s.removed.size(), runs);
  for (size_t i = 0; i < s.removed.size();) {
    size_t same = 1;  // the same edit kept again and again (halving) prints once
    while (i + same < s.removed.size() && s.removed[i + same] == s.removed[i]) ++same;
    std::printf("  - %s%s\n", s.removed[i].c_str(),
                same > 1 ? (" (" + std::to_string(same) + " times)").c_str() : "");
    i += same;
  }
  std::printf("minimize: events %llu -> %llu\n", static_cast<unsigned long long>(events_before),
              static_cast<unsigned long long>(s.events));
  std::printf("minimize: wrote %s\nreproduce: %s run %s%s\n", out.c_str(),
              o.bug.empty() ? "fvdsim" : "fvdsim_testbugs", out.c_str(),
              o.bug.empty() ? "" : (" --bug " + o.bug).c_str());
}

unsigned Cores() {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

}  // namespace

int Minimize(const MinimizeOptions& in) {
  MinimizeOptions o = in;
  if (o.self.empty()) o.self = SelfPath();
  const unsigned jobs = o.jobs != 0 ? o.jobs : Cores();
  auto world = swarm::LoadRunWorld(o.file, o.seed, o.swarm);
  if (!world.ok()) {
    std::cerr << "fvdsim minimize: " << world.status().message() << "\n";
    return 2;
  }
  world->config.seed = world->seed;  // the written world carries the seed it fails at
  std::error_code ec;
  const fs::path scratch =
      fs::temp_directory_path() / ("fvdsim-minimize-" + std::to_string(::getpid()));
  fs::create_directories(scratch, ec);
  Runner runner(o, scratch, jobs);
  runner.timeout = o.timeout.count() != 0 ? o.timeout : milliseconds(120'000);
  // The world as a plain file must fail on its own, as the original run does.
  const Outcome first = runner.RunAll({world->config}).front();
  if (first.verdict == Verdict::kPass) {
    std::cerr << "fvdsim minimize: " << ReproduceCommand(o.file, o.seed, o.swarm, "", o.bug)
              << " passes every check: nothing to minimize\n";
    fs::remove_all(scratch, ec);
    return 2;
  }
  if (o.timeout.count() == 0)
    runner.timeout =
        std::max(milliseconds(30'000), milliseconds(static_cast<int64_t>(first.wall_s * 5000)));
  Shrink s{world->config, first.signature, first.events, {}, first.crash_schedule_ns, {}};
  // Progress on stderr, a line per change kept: a long minimization is not silent.
  s.say = [&runner, &o](const std::string& what) {
    std::fprintf(stderr, "minimize: [%u/%u runs] %s\n", runner.runs(), o.max_runs, what.c_str());
  };
  s.say(first.signature + " at seed " + std::to_string(o.seed) + ", " +
        std::to_string(first.events) + " events: shrinking");
  ShrinkTime(runner, s, o.max_runs);
  ShrinkStructure(runner, s, jobs, o.max_runs, o.reseeds);
  ShrinkTime(runner, s, o.max_runs);
  const std::string out = o.out.empty() ? DefaultOut(o) : o.out;
  const std::string header = "Minimized by fvdsim minimize from " +
                             ReproduceCommand(o.file, o.seed, o.swarm, "", o.bug) + "\nIt fails " +
                             s.signature + " (" + std::to_string(s.events) + " events, was " +
                             std::to_string(first.events) + ").";
  std::ofstream(out, std::ios::binary | std::ios::trunc) << WriteWorkloadYaml(s.world, header);
  // The written file, run on its own, must fail the same way.
  std::vector<std::string> argv = {o.self, "run", out, "--json"};
  if (!o.bug.empty()) argv.insert(argv.end(), {"--bug", o.bug});
  ChildPool check(1);
  Status started = check.Start(0, argv, runner.timeout);
  const Outcome again = started.ok() ? Classify(check.Next()) : Outcome{};
  fs::remove_all(scratch, ec);
  if (again.signature != s.signature) {
    std::cerr << "fvdsim minimize: " << out << " does not reproduce " << s.signature << " (got "
              << (again.signature.empty() ? "a pass" : again.signature) << ")\n";
    return 2;
  }
  Print(o, s, first.events, out, runner.runs() + 1);
  return 0;
}

}  // namespace fvd::sim::explore
