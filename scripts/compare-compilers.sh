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
  "$1" run "$2" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])'
}
status=0
for w in boot database random-rw crash-storm; do
  gcc=$(digest build/default/sim/fvdsim "workloads/$w.yaml")
  clang=$(digest build/clang/sim/fvdsim "workloads/$w.yaml")
  if [ "$gcc" = "$clang" ]; then
    echo "compare-compilers: $w: GCC and Clang digests equal ($gcc)"
  else
    echo "compare-compilers: $w: digests differ: GCC $gcc, Clang $clang" >&2
    status=1
  fi
done
exit $status
