// `fvdsim run`: one world, from a workload file or drawn by the seed (--swarm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fvd::sim::cli {

struct RunArgs {
  std::string file;
  std::optional<uint64_t> seed;
  bool swarm = false;
  bool json = false;
  bool quiet = false;
  std::string report_dir;        // "" = no report
  std::string max_time;          // "" = the world's max_time
  std::string print_world;       // "" = none; "-" = print it on stdout and do not run
  std::string bug;               // fvdsim_testbugs only: a deliberate engine bug to turn on
  std::vector<std::string> set;  // KEY=VALUE: workload keys set on every entry of their section
  std::string real_dir;          // "" = simulate; else real mode in this folder (sim/real/)
  bool real_direct = false;      // real mode: O_DIRECT
  bool keep = false;             // real mode: leave the images and bases
  bool local_bases = false;      // real mode: no nbdkit for bases on network disks
};

// Runs it and prints the summary (or JSON). Exit codes: 0 every check passed, 1 a violation
// (the reproduce line follows it on stderr), 2 bad input (the file, an option).
int Run(const RunArgs& args);

// The command line that reproduces a run of `args` at `seed`, e.g.
// "fvdsim run w.yaml --seed 7 --swarm".
std::string ReproduceCommand(const RunArgs& args, uint64_t seed);

}  // namespace fvd::sim::cli
