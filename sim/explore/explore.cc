#include "sim/explore/explore.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "sim/explore/child.h"
#include "sim/explore/outcome.h"
#include "sim/swarm/run_world.h"

namespace fvd::sim::explore {
namespace {

using Clock = std::chrono::steady_clock;

// The failures of one signature.
struct Group {
  std::string signature;
  uint64_t count = 0;
  std::vector<uint64_t> seeds;  // sorted
  std::string message;          // of the smallest seed
  std::vector<std::string> features_in_all;
  double cpu_s_to_first = 0;  // CPU of every run ended before its first failure ended
  bool any = false;
};

class Tally {
 public:
  void Add(uint64_t seed, const Outcome& o) {
    ++runs_;
    cpu_s_ += o.cpu_s;
    events_ += o.events;
    if (o.verdict == Verdict::kPass) return;
    ++failed_;
    Group& g = groups_[o.signature];
    g.signature = o.signature;
    if (!g.any) {
      g.features_in_all = o.features;
      g.cpu_s_to_first = cpu_s_;
    } else {
      std::erase_if(g.features_in_all, [&](const std::string& f) {
        return std::find(o.features.begin(), o.features.end(), f) == o.features.end();
      });
    }
    const auto at = std::lower_bound(g.seeds.begin(), g.seeds.end(), seed);
    if (at == g.seeds.begin()) g.message = o.message;
    g.seeds.insert(at, seed);
    ++g.count;
    g.any = true;
  }

  // Most frequent first; ties by signature.
  std::vector<const Group*> Sorted() const {
    std::vector<const Group*> out;
    for (const auto& [sig, g] : groups_) out.push_back(&g);
    std::stable_sort(out.begin(), out.end(),
                     [](const Group* a, const Group* b) { return a->count > b->count; });
    return out;
  }

  uint64_t runs() const { return runs_; }
  uint64_t failed() const { return failed_; }
  double cpu_s() const { return cpu_s_; }
  uint64_t events() const { return events_; }
  size_t signatures() const { return groups_.size(); }

 private:
  std::map<std::string, Group> groups_;
  uint64_t runs_ = 0, failed_ = 0, events_ = 0;
  double cpu_s_ = 0;
};

std::string Clocked(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

// The progress line, on a terminal only, at most four times a second.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  void Show(const Tally& t, double elapsed_s, double left_s) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    char line[200];
    std::snprintf(line, sizeof line, "\rexplore: %llu seeds, %llu failed (%zu signatures), %.1f/s, %s left ",
                  static_cast<unsigned long long>(t.runs()),
                  static_cast<unsigned long long>(t.failed()), t.signatures(),
                  elapsed_s > 0 ? static_cast<double>(t.runs()) / elapsed_s : 0.0,
                  Clocked(std::max(left_s, 0.0)).c_str());
    std::fputs(line, stderr);
    std::fflush(stderr);
  }
  void Clear() {
    if (enabled_) std::fprintf(stderr, "\r%*s\r", 78, "");
  }

 private:
  bool enabled_;
  Clock::time_point last_{};
};

std::vector<std::string> ChildArgs(const ExploreOptions& o, uint64_t seed) {
  std::vector<std::string> a = {o.self, "run", o.file, "--seed", std::to_string(seed), "--json"};
  if (o.swarm) a.push_back("--swarm");
  if (!o.max_time.empty()) a.insert(a.end(), {"--max-time", o.max_time});
  if (!o.bug.empty()) a.insert(a.end(), {"--bug", o.bug});
  return a;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out.empty() ? "none" : out;
}

std::string SeedList(const std::vector<uint64_t>& seeds) {
  std::string out;
  for (size_t i = 0; i < seeds.size() && i < 10; ++i) out += (i ? ", " : "") + std::to_string(seeds[i]);
  if (seeds.size() > 10) out += ", ...";
  return out;
}

void PrintText(const ExploreOptions& o, const Tally& t, uint64_t first, uint64_t last,
               double wall_s, unsigned jobs) {
  std::printf("explore: %llu seeds (%llu-%llu) in %s, %.1f seeds/s on %u processes, %.1f CPU s\n",
              static_cast<unsigned long long>(t.runs()), static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(last), Clocked(wall_s).c_str(),
              wall_s > 0 ? static_cast<double>(t.runs()) / wall_s : 0.0, jobs, t.cpu_s());
  if (t.failed() == 0) {
    std::printf("explore: no seed failed\n");
    return;
  }
  std::printf("explore: %llu failed, %zu signatures:\n",
              static_cast<unsigned long long>(t.failed()), t.signatures());
  for (const Group* g : t.Sorted()) {
    std::printf("  %llux %s  (seeds %s)\n", static_cast<unsigned long long>(g->count),
                g->signature.c_str(), SeedList(g->seeds).c_str());
    std::printf("      %s\n", g->message.c_str());
    std::printf("      features on in every one: %s\n", Join(g->features_in_all).c_str());
    std::printf("      reproduce: %s\n",
                ReproduceCommand(o.file, g->seeds.front(), o.swarm, o.max_time, o.bug).c_str());
  }
}

nlohmann::ordered_json ToJson(const ExploreOptions& o, const Tally& t, uint64_t first,
                              uint64_t last, double wall_s, unsigned jobs) {
  nlohmann::ordered_json j;
  j["file"] = o.file;
  j["swarm"] = o.swarm;
  j["first_seed"] = first;
  j["last_seed"] = last;
  j["seeds_run"] = t.runs();
  j["failed"] = t.failed();
  j["jobs"] = jobs;
  j["wall_s"] = wall_s;
  j["cpu_s"] = t.cpu_s();
  j["events"] = t.events();
  j["groups"] = nlohmann::ordered_json::array();
  for (const Group* g : t.Sorted()) {
    j["groups"].push_back({{"signature", g->signature},
                           {"count", g->count},
                           {"seeds", g->seeds},
                           {"message", g->message},
                           {"features_in_all", g->features_in_all},
                           {"cpu_s_to_first", g->cpu_s_to_first},
                           {"reproduce", ReproduceCommand(o.file, g->seeds.front(), o.swarm,
                                                          o.max_time, o.bug)}});
  }
  return j;
}

unsigned Cores() {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

}  // namespace

bool ParseSeedRange(const std::string& text, ExploreOptions& options) {
  const size_t dash = text.find('-');
  const auto number = [](std::string_view s, uint64_t& v) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  uint64_t a = 0, b = 0;
  if (dash == std::string::npos) {
    if (!number(text, a)) return false;
    b = a;
  } else if (!number(std::string_view(text).substr(0, dash), a) ||
             !number(std::string_view(text).substr(dash + 1), b) || a > b) {
    return false;
  }
  options.first_seed = a;
  options.last_seed = b;
  return true;
}

int Explore(const ExploreOptions& in) {
  ExploreOptions o = in;
  if (o.self.empty()) o.self = SelfPath();
  const unsigned jobs = o.jobs != 0 ? o.jobs : Cores();
  // The file is the same for every seed: a bad one is refused once, before anything runs.
  if (auto w = swarm::LoadRunWorld(o.file, o.first_seed, o.swarm); !w.ok()) {
    std::cerr << "fvdsim explore: " << w.status().message() << "\n";
    return 2;
  }
  ChildPool pool(jobs);
  Tally tally;
  ProgressLine progress(!o.json && ::isatty(STDERR_FILENO));
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  uint64_t next = o.first_seed, last_run = o.first_seed;
  bool stop = false;
  const auto may_start = [&] {
    if (stop) return false;
    if (o.last_seed) return next <= *o.last_seed;
    return Clock::now() - start < *o.time;
  };
  for (;;) {
    while (pool.running() < jobs && may_start()) {
      if (Status s = pool.Start(next, ChildArgs(o, next), o.timeout); !s.ok()) {
        std::cerr << "fvdsim explore: " << s.message() << "\n";
        return 2;
      }
      last_run = next++;
    }
    if (pool.running() == 0) break;
    const ChildResult r = pool.Next();
    const Outcome outcome = Classify(r);
    tally.Add(r.id, outcome);
    if (outcome.verdict != Verdict::kPass && o.stop_at_first) stop = true;
    // Seeds to go at the pace so far (wall time per finished seed, with every process busy).
    const double left =
        o.last_seed ? static_cast<double>(*o.last_seed - next + 1 + pool.running()) * elapsed() /
                          static_cast<double>(std::max<uint64_t>(tally.runs(), 1))
                    : std::chrono::duration<double>(*o.time).count() - elapsed();
    progress.Show(tally, elapsed(), left);
  }
  progress.Clear();
  if (o.json) {
    std::cout << ToJson(o, tally, o.first_seed, last_run, elapsed(), jobs).dump(2) << "\n";
  } else {
    PrintText(o, tally, o.first_seed, last_run, elapsed(), jobs);
  }
  return tally.failed() == 0 ? 0 : 1;
}

}  // namespace fvd::sim::explore
