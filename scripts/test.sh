#!/usr/bin/env bash
# Every test: set up, build, check that GCC and Clang builds simulate bit for bit alike, run
# the whole CTest suite, then the suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer (the asan preset, Clang), then a short run of every fuzz target
# (built by that same asan build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
scripts/compare-compilers.sh
ctest --preset default
scripts/build.sh asan
# Under the sanitizers, skip the end-to-end suites that replay whole workload files or drive
# the fvd-img binary through many processes (fvdsim_cli,
# SimulationTest.CrashesAreRecoveredAndChecked, fvd_img_io_cli): minutes there, and they ran
# above in the default build; the same code is still covered under ASan by the other
# simulation tests, the engine's unit and differential tests, and fvd_img_cli. The asan
# preset does not even build the suites that need the engine rebuilt with its deliberate bugs
# (SimulationBugsTest, the RapidCheck property suites) or release timings (the benchmarks and
# nightly_gate): see FVD_SANITIZED in CMakeLists.txt. This keeps CI inside its 20 minutes.
ctest --preset asan -E "fvdsim_cli|CrashesAreRecoveredAndChecked|fvd_img_io_cli"
# A short run of every libFuzzer target on its seed corpus (scripts/fuzz.sh documents the long
# one).
scripts/fuzz.sh --seconds 3
