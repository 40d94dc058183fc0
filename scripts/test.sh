#!/usr/bin/env bash
# Every test: set up, build the default preset, run the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
ctest --preset default
