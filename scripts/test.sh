#!/usr/bin/env bash
# Every test: set up, build, check that GCC and Clang builds simulate bit for bit alike, run
# the whole CTest suite, then the suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer (the asan preset), then a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
scripts/compare-compilers.sh
ctest --preset default
scripts/build.sh asan
# Under the sanitizers, skip the two end-to-end suites that replay whole workload files
# (fvdsim_cli, SimulationBugsTest): minutes each there, and they ran above in the default
# build; the simulator's code is still covered under ASan by sim_test and the unit tests.
ctest --preset asan -E "fvdsim_cli|SimulationBugsTest"
# A short run of every libFuzzer target on its seed corpus (scripts/fuzz.sh documents the long
# one).
scripts/fuzz.sh --seconds 5
