#!/usr/bin/env bash
# Every test: set up, build, check that GCC and Clang builds simulate bit for bit alike, run
# the whole CTest suite, then the whole suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer (the asan preset).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
scripts/compare-compilers.sh
ctest --preset default
scripts/build.sh asan
ctest --preset asan
