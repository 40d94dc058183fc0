#!/usr/bin/env bash
# The nightly benchmark regression job: install what is missing, build the release preset
# (default: optimized, with debug info), run every suite with repetitions, write results.json
# and a report under reports/nightly/<time>/, and compare with reports/baselines/nightly.json.
# Exits 1 naming each regression, 2 if a suite could not measure.
#
#   scripts/nightly.sh                     the nightly job (about 8 minutes on 2 cores, after the build)
#   scripts/nightly.sh --update-baseline   the same, then make this run the baseline
#   scripts/nightly.sh --help              every option (suites, repetitions, thresholds)
#
# The gate alone on results already measured: bench/nightly/nightly.py compare RESULTS.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) exec /usr/bin/python3 bench/nightly/nightly.py run --help ;;
esac
scripts/setup.sh
scripts/build.sh default >/dev/null
# Debian's interpreter: SciPy comes from Debian's python3-scipy.
exec /usr/bin/python3 bench/nightly/nightly.py run "$@"
