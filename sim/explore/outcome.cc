#include "sim/explore/outcome.h"

#include <signal.h>
#include <string.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace fvd::sim::explore {
namespace {

std::string LastLine(const std::string& text) {
  size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Where a crashed process says it died, from the end of its stderr.
void DescribeCrash(const ChildResult& r, Outcome& o) {
  std::smatch m;
  static const std::regex kAssert(R"(([^\s:/]+\.(?:cc|h|cpp)):(\d+): [^\n]*Assertion [^\n]* failed)");
  static const std::regex kSanitizer(R"((\w+Sanitizer): ([\w-]+))");
  static const std::regex kUncaught(R"(terminate called after throwing an instance of '([^']+)')");
  if (std::regex_search(r.err_tail, m, kAssert)) {
    o.signature = "process-crash@assert " + m[1].str() + ":" + m[2].str();
    o.message = m[0].str();
  } else if (std::regex_search(r.err_tail, m, kSanitizer)) {
    o.signature = "process-crash@" + m[1].str() + " " + m[2].str();
    o.message = m[0].str();
  } else if (std::regex_search(r.err_tail, m, kUncaught)) {
    o.signature = "process-crash@uncaught " + m[1].str();
    o.message = m[0].str();
  } else {
    o.signature = "process-crash@" + (r.signal != 0 ? SignalName(r.signal)
                                                    : "exit " + std::to_string(r.exit_code));
    o.message = LastLine(r.err_tail);
  }
  if (o.message.empty()) o.message = "the process ended by " + SignalName(r.signal);
}

}  // namespace

std::string ReproduceCommand(const std::string& file, uint64_t seed, bool swarm,
                             const std::string& max_time, const std::string& bug) {
  std::string cmd = std::string(bug.empty() ? "fvdsim" : "fvdsim_testbugs") + " run " + file +
                    " --seed " + std::to_string(seed);
  if (swarm) cmd += " --swarm";
  if (!max_time.empty()) cmd += " --max-time " + max_time;
  if (!bug.empty()) cmd += " --bug " + bug;
  return cmd;
}

Outcome Classify(const ChildResult& r) {
  Outcome o;
  o.cpu_s = r.cpu_s;
  o.wall_s = r.wall_s;
  if (r.timed_out) {
    o.verdict = Verdict::kTimeout;
    o.signature = "timeout@wall-clock";
    o.message = "still running after the per-run timeout; killed";
    return o;
  }
  if (r.exit_code == 2) {
    o.verdict = Verdict::kRefused;
    o.signature = "world-refused@build";
    o.message = LastLine(r.err_tail);
    return o;
  }
  if (r.exit_code == 0 || r.exit_code == 1) {
    const auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("digest")) {
      o.events = j.value("events", uint64_t{0});
      o.digest = j.value("digest", std::string());
      if (j.contains("world") && j["world"].contains("features"))
        o.features = j["world"]["features"].get<std::vector<std::string>>();
      if (j.contains("crash_schedule_ns"))
        o.crash_schedule_ns = j["crash_schedule_ns"].get<std::vector<std::vector<uint64_t>>>();
      const auto& v = j["violations"];
      if (r.exit_code == 0 && v.empty()) return o;
      o.verdict = Verdict::kFail;
      o.signature = j["signature"].is_string() ? j["signature"].get<std::string>() : "unknown";
      o.message = v.empty() ? "exit 1 without a violation" : v[0].get<std::string>();
      return o;
    }
  }
  o.verdict = Verdict::kProcessCrash;
  DescribeCrash(r, o);
  return o;
}

}  // namespace fvd::sim::explore
