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
# The digest of one run, and (for swarm runs) the world it drew.
digest() {
  local bin=$1 file=$2 cap=$3
  shift 3
  "$bin" run "$file" --json ${cap:+--max-time "$cap"} "$@" |
    python3 -c 'import hashlib, json, sys; j = json.load(sys.stdin); print(j["digest"], hashlib.sha256(j["world"].get("yaml", "").encode()).hexdigest()[:16])'
}
status=0
compare() {
  local name=$1 file=$2 cap=$3
  shift 3
  gcc=$(digest build/default/sim/fvdsim "$file" "$cap" "$@")
  clang=$(digest build/clang/sim/fvdsim "$file" "$cap" "$@")
  if [ "$gcc" = "$clang" ]; then
    echo "compare-compilers: $name: GCC and Clang digests equal (${gcc%% *})"
  else
    echo "compare-compilers: $name: digests (or worlds) differ: GCC $gcc, Clang $clang" >&2
    status=1
  fi
}
# Whole runs of the short workloads; the first 3 s of random-rw (about 200k events) and the
# first 8 s of crash-storm (about 6 crashes and recoveries) keep this step short in CI.
for spec in boot: database: random-rw:3s crash-storm:8s; do
  w=${spec%%:*}
  compare "$w" "workloads/$w.yaml" "${spec#*:}"
done
# Worlds the seed draws: the same world and the same run from both compilers.
for seed in 1 2 3 4 5 6 7 8; do
  compare "swarm seed $seed" workloads/swarm.yaml "" --swarm --seed "$seed"
done
exit $status
