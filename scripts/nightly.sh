#!/usr/bin/env bash
# The nightly job: install what is missing, build the release preset (default: optimized, with
# debug info), then
#   1. the benchmark regression gate: run every suite with repetitions, write results.json and
#      a report under reports/nightly/<time>/, and compare with reports/baselines/nightly.json;
#   2. an exploration: swarm seeds of workloads/swarm.yaml through the sweep tool (fvdsweep),
#      on a local Dask cluster or the one given, a new window of seeds each day; its report and
#      results land in reports/sweeps/nightly-explore-<date>/.
# Exits 1 naming each regression or each failing seed's signature and reproduce command, 2 if
# a suite or the exploration could not run.
#
#   scripts/nightly.sh                     the nightly job (about 8 minutes on 2 cores for the
#                                          gate, after the build, plus the exploration)
#   scripts/nightly.sh --update-baseline   the same, then make this run the baseline
#   scripts/nightly.sh --explore-seeds N   seeds to explore (default 2000; 0: none)
#   scripts/nightly.sh --scheduler tcp://HOST:PORT | --scheduler-file F
#                                          explore on an existing Dask cluster
#   scripts/nightly.sh --help              the gate's options (suites, repetitions, thresholds)
#
# The gate alone on results already measured: bench/nightly/nightly.py compare RESULTS.
set -euo pipefail
cd "$(dirname "$0")/.."
explore_seeds=2000
cluster=()
gate_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) exec /usr/bin/python3 bench/nightly/nightly.py run --help ;;
    --explore-seeds) explore_seeds="$2"; shift 2 ;;
    --scheduler|--scheduler-file) cluster+=("$1" "$2"); shift 2 ;;
    *) gate_args+=("$1"); shift ;;
  esac
done
scripts/setup.sh
scripts/build.sh default >/dev/null
# Debian's interpreter: SciPy and Dask come from Debian's packages.
gate=0
/usr/bin/python3 bench/nightly/nightly.py run ${gate_args[@]+"${gate_args[@]}"} || gate=$?
explore=0
if [ "$explore_seeds" -gt 0 ]; then
  # A new window of seeds each day: day number * N + 1 .. + N.
  day=$(( $(date -u +%s) / 86400 ))
  first=$(( day * explore_seeds + 1 ))
  last=$(( first + explore_seeds - 1 ))
  echo "nightly: exploring swarm seeds $first-$last" >&2
  sim/sweep/fvdsweep run workloads/swarm.yaml --swarm --seeds "$first-$last" \
    --name "nightly-explore-$(date -u +%Y-%m-%d)" ${cluster[@]+"${cluster[@]}"} || explore=$?
fi
if [ "$gate" -eq 2 ] || [ "$explore" -eq 2 ]; then exit 2; fi
if [ "$gate" -ne 0 ] || [ "$explore" -ne 0 ]; then exit 1; fi
exit 0
