#!/usr/bin/env bash
# The main job on its defaults: set up, build, then simulate one VM booting from a base image
# on a network server (workloads/boot.yaml) and print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
build/default/sim/fvdsim run workloads/boot.yaml
