#include "sim/report/report.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "sim/report/summary.h"

namespace fvd::sim {
namespace {

constexpr int kBuckets = 100;
constexpr double kMiB = 1024.0 * 1024.0;

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return Status::IoError("cannot write " + path.string());
  return Status::Ok();
}

// latency.dat: one line per operation: seconds, microseconds, kind (0 read, 1 write, 2 flush).
std::string LatencyData(const Recorder& rec) {
  std::string out = "# time_s latency_us kind\n";
  char line[96];
  for (const OpSample& s : rec.samples()) {
    std::snprintf(line, sizeof line, "%.6f %.1f %u\n", static_cast<double>(s.time_ns) / 1e9,
                  static_cast<double>(s.latency_ns) / 1e3, static_cast<unsigned>(s.kind));
    out += line;
  }
  return out;
}

// base_load.dat: MiB/s read from the base servers in each of kBuckets time slices.
std::string BaseLoadData(const Recorder& rec, uint64_t end_ns) {
  std::string out = "# time_s base_read_mib_s\n";
  if (rec.samples().empty() || end_ns == 0) return out;
  const uint64_t width = std::max<uint64_t>(1, end_ns / kBuckets);
  std::vector<uint64_t> last(kBuckets + 1, 0);
  for (const OpSample& s : rec.samples()) {
    const uint64_t b = std::min<uint64_t>(s.time_ns / width, kBuckets);
    last[b] = std::max(last[b], s.base_bytes_read);
  }
  uint64_t prev = 0;
  char line[64];
  for (int b = 0; b <= kBuckets; ++b) {
    const uint64_t now = std::max(last[b], prev);
    std::snprintf(line, sizeof line, "%.6f %.3f\n", static_cast<double>(b * width) / 1e9,
                  static_cast<double>(now - prev) / kMiB / (static_cast<double>(width) / 1e9));
    out += line;
    prev = now;
  }
  return out;
}

// prefetch.dat: one gnuplot data block per VM that prefetched (virtual seconds, MiB copied
// so far), and the plot command naming each block after its VM.
struct PrefetchPlot {
  std::string data, plot;
};
PrefetchPlot PrefetchData(const SimResult& r, const Recorder& rec) {
  PrefetchPlot out;
  char line[96];
  int block = 0;
  for (size_t vm = 0; vm < r.vms.size(); ++vm) {
    std::string rows;
    for (const PrefetchSample& s : rec.prefetch()) {
      if (s.vm != vm) continue;
      std::snprintf(line, sizeof line, "%.6f %.3f\n", static_cast<double>(s.time_ns) / 1e9,
                    static_cast<double>(s.bytes) / kMiB);
      rows += line;
    }
    if (rows.empty()) continue;
    out.data += "# " + r.vms[vm].name + ": time_s prefetched_mib\n" + rows + "\n\n";
    out.plot += std::string(block == 0 ? "plot " : ", \\\n     ") + "'prefetch.dat' index " +
                std::to_string(block) + " using 1:2 with lines lw 2 title '" + r.vms[vm].name + "'";
    ++block;
  }
  out.plot += "\n";
  return out;
}

struct PhaseFigures {
  uint64_t ops = 0, bytes = 0, first_ns = UINT64_MAX, last_ns = 0;
};

// Throughput of each (VM, phase), from its first to its last completion.
std::map<std::pair<uint16_t, uint8_t>, PhaseFigures> PerPhase(const Recorder& rec) {
  std::map<std::pair<uint16_t, uint8_t>, PhaseFigures> out;
  for (const OpSample& s : rec.samples()) {
    PhaseFigures& f = out[{s.vm, s.phase}];
    ++f.ops;
    f.bytes += s.bytes;
    f.first_ns = std::min(f.first_ns, s.time_ns - s.latency_ns);
    f.last_ns = std::max(f.last_ns, s.time_ns);
  }
  return out;
}

double MiBps(const PhaseFigures& f) {
  const double secs = static_cast<double>(f.last_ns - std::min(f.first_ns, f.last_ns)) / 1e9;
  return secs > 0 ? static_cast<double>(f.bytes) / kMiB / secs : 0.0;
}

std::string PhaseData(const SimResult& r, const Recorder& rec) {
  std::string out = "# label mib_s ops\n";
  char line[160];
  for (const auto& [key, f] : PerPhase(rec)) {
    const std::string vm = key.first < r.vms.size() ? r.vms[key.first].name : "vm";
    std::snprintf(line, sizeof line, "\"%s/%u\" %.3f %llu\n", vm.c_str(),
                  static_cast<unsigned>(key.second), MiBps(f),
                  static_cast<unsigned long long>(f.ops));
    out += line;
  }
  return out;
}

constexpr const char* kPlots = R"(set terminal pngcairo size 1000,420 noenhanced
set grid
set key outside right
set output 'latency.png'
set title 'Guest I/O latency over time'
set xlabel time_label
set ylabel 'latency (us)'
set logscale y
plot 'latency.dat' using 1:($3==0?$2:1/0) with points pt 7 ps 0.3 title 'read', \
     'latency.dat' using 1:($3==1?$2:1/0) with points pt 7 ps 0.3 title 'write', \
     'latency.dat' using 1:($3==2?$2:1/0) with points pt 7 ps 0.3 title 'flush'
unset logscale y
set output 'base_load.png'
set title 'Load on the base-image servers'
set ylabel 'MiB/s read'
plot 'base_load.dat' using 1:2 with steps lw 2 title 'base reads'
set output 'phases.png'
set title 'Throughput per phase (VM/phase)'
set xlabel ''
set ylabel 'MiB/s'
set style fill solid 0.6
set boxwidth 0.7
set xtics rotate by -30
plot 'phases.dat' using 0:2:xtic(1) with boxes notitle
)";

// Drawn only when some VM prefetched.
constexpr const char* kPrefetchPlot = R"(set terminal pngcairo size 1000,420 noenhanced
set grid
set key outside right
set output 'prefetch.png'
set title 'Whole-image prefetch progress'
set xlabel time_label
set ylabel 'MiB copied'
set xtics norotate
)";

std::string Markdown(const std::string& workload, const SimResult& r, const Recorder& rec,
                     bool plotted, bool real_clock) {
  std::string md = "# fvdsim report: " + workload + ", seed " + std::to_string(r.seed) +
                   (real_clock ? ", on real storage" : "") + "\n\n";
  md += "Reproduce: `fvdsim run <file> --seed " + std::to_string(r.seed) +
        (real_clock ? " --real <folder>" : "") + " --report <dir>`" +
        (real_clock ? " (a real run repeats its requests, not its timing)" : "") + "\n\n";
  md += "```\n" + ResultToText(r, workload) + "```\n\n## Throughput per phase\n\n";
  md += "| VM | phase | operations | MiB/s |\n|---|---|---|---|\n";
  char line[160];
  for (const auto& [key, f] : PerPhase(rec)) {
    const std::string vm = key.first < r.vms.size() ? r.vms[key.first].name : "vm";
    std::snprintf(line, sizeof line, "| %s | %u | %llu | %.1f |\n", vm.c_str(),
                  static_cast<unsigned>(key.second), static_cast<unsigned long long>(f.ops),
                  MiBps(f));
    md += line;
  }
  if (plotted) {
    md +=
        "\n## Latency over time\n\n![latency](latency.png)\n\n## Throughput per phase\n\n"
        "![phases](phases.png)\n\n## Base-server load\n\n![base load](base_load.png)\n";
    if (!rec.prefetch().empty())
      md += "\n## Whole-image prefetch progress\n\n![prefetch](prefetch.png)\n";
  } else {
    md += "\n(Plots were not drawn: gnuplot is missing. The data files are beside this report.)\n";
  }
  return md;
}

}  // namespace

Status WriteReport(const std::string& dir, const std::string& workload, const SimResult& result,
                   const Recorder& recorder, std::string& warning, bool real_clock) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create report directory " + dir + ": " + ec.message());
  const fs::path d(dir);
  FVD_RETURN_IF_ERROR(WriteFile(d / "latency.dat", LatencyData(recorder)));
  FVD_RETURN_IF_ERROR(WriteFile(d / "base_load.dat", BaseLoadData(recorder, result.sim_time_ns)));
  FVD_RETURN_IF_ERROR(WriteFile(d / "phases.dat", PhaseData(result, recorder)));
  const bool prefetched = !recorder.prefetch().empty();
  // Time is virtual in the simulator, real seconds in a real run.
  std::string plots =
      std::string("time_label = '") + (real_clock ? "time" : "virtual time") + " (s)'\n" + kPlots;
  if (prefetched) {
    const PrefetchPlot p = PrefetchData(result, recorder);
    FVD_RETURN_IF_ERROR(WriteFile(d / "prefetch.dat", p.data));
    plots += kPrefetchPlot + p.plot;
  }
  FVD_RETURN_IF_ERROR(WriteFile(d / "plots.gp", plots));
  FVD_RETURN_IF_ERROR(WriteFile(d / "result.json", ResultToJson(result, workload).dump(2) + "\n"));
  // gnuplot runs in the report directory; its output goes to a log there, not to our stdout.
  const std::string cmd = "cd '" + d.string() + "' && gnuplot plots.gp > gnuplot.log 2>&1";
  const bool plotted = std::system(cmd.c_str()) == 0;
  if (!plotted) warning = "gnuplot failed or is missing (see " + (d / "gnuplot.log").string() + ")";
  return WriteFile(d / "report.md", Markdown(workload, result, recorder, plotted, real_clock));
}

}  // namespace fvd::sim
