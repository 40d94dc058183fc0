#!/usr/bin/env bash
# Determinism across compilers: the same workload and seed must give the same trace digest
# from the GCC build (preset default) and the Clang build (preset clang). Builds fvdsim with
# Clang; expects build/default to be built already.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Quiet unless something fails; then the whole build log.
cmake --preset clang >"$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build --preset clang --target fvdsim >"$log" 2>&1 || { cat "$log"; exit 1; }
digest() {
  "$1" run "$2" --json ${3:+--max-time "$3"} | python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])'
}
status=0
# Whole runs of the short workloads; the first 3 s of random-rw (about 200k events) and the
# first 8 s of crash-storm (about 6 crashes and recoveries) keep this step short in CI.
for spec in boot: database: random-rw:3s crash-storm:8s; do
  w=${spec%%:*}
  cap=${spec#*:}
  gcc=$(digest build/default/sim/fvdsim "workloads/$w.yaml" "$cap")
  clang=$(digest build/clang/sim/fvdsim "workloads/$w.yaml" "$cap")
  if [ "$gcc" = "$clang" ]; then
    echo "compare-compilers: $w: GCC and Clang digests equal ($gcc)"
  else
    echo "compare-compilers: $w: digests differ: GCC $gcc, Clang $clang" >&2
    status=1
  fi
done
exit $status
