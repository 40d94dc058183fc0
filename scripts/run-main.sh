#!/usr/bin/env bash
# The main job on its defaults: set up, build, then create an FVD overlay on a base image and
# inspect it with fvd-img. (When the simulator lands, this runs `fvdsim run workloads/boot.yaml`.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
bin=build/default/tools/fvd-img/fvd-img
demo=build/demo
mkdir -p "$demo"
# A 256 MiB base image with 4 MiB of non-zero data at its start.
head -c $((4 << 20)) /dev/urandom > "$demo/base.raw"
truncate -s 256M "$demo/base.raw"
"$bin" create -b base.raw "$demo/disk.fvd" 1G
"$bin" info "$demo/disk.fvd"
