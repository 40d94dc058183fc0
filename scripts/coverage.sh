#!/usr/bin/env bash
# Line, branch and function coverage of core/ by each kind of test on its own and by all of
# them together, with Clang's source-based coverage (the `coverage` preset; llvm-profdata and
# llvm-cov from Debian's llvm). Writes reports/coverage/README.md and summary.json.
#
#   unit       the GoogleTest suites of the engine, the format, the simulator's parts and the
#              tools (CTest, without the kinds below)
#   tools      the end-to-end tests of fvd-img, the fio engine and the nbdkit plugin
#   property   the RapidCheck crash-consistency properties and the exhaustive histories
#   simulator  simulator workloads under crashes: workloads/crash-*.yaml, and swarm worlds
#              with crashes always on (fvdsim explore --swarm)
#   fuzz       every fuzz target over its seed corpus, each input once
#
#   scripts/coverage.sh [--swarm-seeds N]   (default 400)
set -euo pipefail
cd "$(dirname "$0")/.."
swarm_seeds=400
while [ $# -gt 0 ]; do
  case "$1" in
    --swarm-seeds) swarm_seeds="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "coverage: unknown option $1" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
scripts/build.sh coverage >/dev/null
B=$PWD/build/coverage
P=$B/profiles
rm -rf "$P"
mkdir -p "$P"/{unit,tools,property,simulator,fuzz}
say() { echo "coverage: $*" >&2; }
# Every process (tests, the tools they start, fvdsim children) writes a profile of its own.
as() { local kind=$1; shift; LLVM_PROFILE_FILE="$P/$kind/%p-%m.profraw" "$@"; }

PROPERTY='CrashConsistency|Exhaustive|DeliberateBug|JournalDamage|JournalModel'
TOOLS='fvd_img_cli|fvd_img_io_cli|fvd_img_bench_cli|fvd_fio_plugin|fvd_nbdkit'
NOT_UNIT="$PROPERTY|$TOOLS|fvdsim_cli|fvdsweep|nightly_gate|SimulationBugs"
say "unit tests"
as unit ctest --preset coverage -E "$NOT_UNIT" >/dev/null
say "tool tests"
as tools ctest --preset coverage -R "$TOOLS" >/dev/null
say "property tests"
as property ctest --preset coverage -R "$PROPERTY" >/dev/null
say "simulator workloads under crashes"
for w in workloads/crash-*.yaml; do as simulator "$B/sim/fvdsim" run "$w" -q; done
crashy=$(mktemp --suffix=.yaml)
trap 'rm -f "$crashy"' EXIT
printf 'name: swarm-crashes\nswarm:\n  features: {crashes: 100%%}\n' > "$crashy"
as simulator "$B/sim/fvdsim" explore "$crashy" --swarm --seeds "1-$swarm_seeds" >/dev/null
say "fuzz corpora"
for t in header_fuzz metadata_fuzz journal_replay_fuzz open_image_fuzz workload_yaml_fuzz; do
  corpus=fuzz/corpus/${t%_fuzz}
  [ "$t" = workload_yaml_fuzz ] && corpus=workloads
  as fuzz "$B/fuzz/$t" -runs=0 "$corpus" >/dev/null 2>&1
done
say "merging and reporting"
exec /usr/bin/python3 scripts/coverage_report.py --build "$B" --out reports/coverage \
  --swarm-seeds "$swarm_seeds"
