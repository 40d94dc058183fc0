#!/usr/bin/env bash
# Builds the libFuzzer targets (build preset `fuzz`: the fuzz_targets of the asan build, Clang
# with ASan, UBSan and coverage) and runs each on its seed corpus in fuzz/corpus/ (plus
# workloads/ for the YAML loader). New inputs go to a scratch directory, so the repository does
# not change; a finding stops with the reproducer's path.
#
#   scripts/fuzz.sh                   every target for 30 s (CI runs a shorter budget)
#   scripts/fuzz.sh --long            the long run: 10 million executions or an hour per
#                                     target, whichever comes first
#   scripts/fuzz.sh --runs N          stop each target after N executions (and --seconds)
#   scripts/fuzz.sh --timeout N       a unit running longer than N s is a finding (default 20;
#                                     --long: 120, as a long run shares the machine; libFuzzer
#                                     times units by the wall clock)
#   scripts/fuzz.sh --corpus          regenerate fuzz/corpus with make_corpus (default build)
#   scripts/fuzz.sh open_image_fuzz   only the named targets
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
runs=-1
timeout=20
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --long) seconds=3600; runs=10000000; timeout=120; shift ;;
    --corpus)
      cmake --build --preset default --target make_corpus >/dev/null
      rm -rf fuzz/corpus/{header,metadata,journal_replay,open_image}
      build/default/fuzz/make_corpus fuzz/corpus
      echo "fuzz: corpus written to fuzz/corpus"
      exit 0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(header_fuzz metadata_fuzz journal_replay_fuzz \
                                     open_image_fuzz workload_yaml_fuzz)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cmake --preset asan >"$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build --preset fuzz >"$log" 2>&1 || { cat "$log"; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch" "$log"' EXIT
artifacts=build/asan/artifacts
mkdir -p "$artifacts"
for t in "${targets[@]}"; do
  seeds=(fuzz/corpus/"${t%_fuzz}")
  [ "$t" = workload_yaml_fuzz ] && seeds=(workloads)
  mkdir -p "$scratch/$t"
  if [ "$runs" -ge 0 ]; then
    echo "fuzz: $t for $runs executions or ${seconds}s"
  else
    echo "fuzz: $t for ${seconds}s"
  fi
  start=$SECONDS
  if ! build/asan/fuzz/"$t" "$scratch/$t" "${seeds[@]}" -max_total_time="$seconds" -runs="$runs" \
      -timeout="$timeout" -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$t-" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t found a problem; reproducer in $artifacts/" >&2
    exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  echo "fuzz: $t: $execs executions in $((SECONDS - start)) s, no findings"
done
