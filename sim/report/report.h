// The report of a run (`fvdsim run FILE --report DIR`): DIR/<workload>-<seed>/report.md with the
// summary, a table of throughput per phase, and plots drawn by gnuplot (Debian's gnuplot-nox)
// from the data files written beside them: latency over time, throughput per phase, and the
// load on the base-image servers over time.
#pragma once

#include <string>

#include "core/util/status.h"
#include "sim/config/config.h"
#include "sim/report/recorder.h"
#include "sim/world/simulation.h"

namespace fvd::sim {

// Writes the report into `dir` (created if missing). Plotting failures (no gnuplot) leave the
// data and the Markdown and set `warning`; only failing to write files is an error.
// `real_clock`: a real-mode run (its times are real seconds, and it reproduces with --real).
Status WriteReport(const std::string& dir, const std::string& workload, const SimResult& result,
                   const Recorder& recorder, std::string& warning, bool real_clock = false);

}  // namespace fvd::sim
