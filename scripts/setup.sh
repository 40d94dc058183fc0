#!/usr/bin/env bash
# Installs everything fvd needs from Debian's packages, and nothing when all is there.
# Idempotent: run it as often as you like. Needs root (or sudo) only when something is missing.
#
# Also fetches fio's source package (for the fio plugin's headers; fio ships none) into
# .deps/fio-src through a private apt sources list, and runs fio's ./configure there only to
# produce config-host.h. See ../shared/docs/FIO-PLUGIN.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

PACKAGES=(
  # toolchain
  build-essential g++ gcc cmake ninja-build pkg-config git python3 python3-yaml clang clang-format dpkg-dev
  # libraries (see cmake/Dependencies.cmake for why each)
  libgtest-dev libgmock-dev libbenchmark-dev libbenchmark-tools librapidcheck-dev
  libboost-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libisal-dev liburing-dev libabsl-dev
  # peers and external clients the tests and benchmarks drive
  fio qemu-utils nbdkit nbdkit-plugin-dev libnbd-bin
  # base images on a remote NBD server (core/remote/)
  libnbd-dev
  # counting the reads, writes and flushes of each format (bench/peers/compare.py)
  strace
  # plots of the simulator reports
  gnuplot-nox
  # statistics of the nightly gate (the Mann-Whitney U test)
  python3-scipy
  # fvdsweep: sweeps on a Dask cluster (local or given), their statistics and plots
  python3-distributed python3-numpy python3-matplotlib
  # scripts/coverage.sh: llvm-profdata and llvm-cov for Clang's source-based coverage
  llvm
  # man pages made from --help (packaging/); the .deb's checks
  help2man lintian
)

say() { echo "setup: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "all ${#PACKAGES[@]} packages present"
    return
  fi
  say "installing: ${missing[*]}"
  # A third-party list that cannot be fetched must not stop us; Debian's own lists suffice.
  as_root apt-get update || say "warning: apt-get update reported errors; trying to install anyway"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# The first Debian mirror apt already uses (deb822 .sources or one-line lists).
debian_mirror() {
  local uri=""
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}' \
          /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
          /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

fetch_fio_source() {
  local version dest="$ROOT/.deps/fio-src" stamp
  version=$(dpkg-query -W -f='${Version}' fio)
  stamp="$dest/.fvd-fio-version"
  if [ -f "$dest/config-host.h" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    say "fio $version source present in .deps/fio-src"
    return
  fi
  local codename mirror work="$ROOT/.deps/apt"
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  mirror=$(debian_mirror)
  say "fetching fio $version source from $mirror ($codename)"
  rm -rf "$work" "$dest" && mkdir -p "$work/lists/partial" "$work/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $codename main" \
    > "$work/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$work/lists")
  apt-get "${opts[@]}" update >/dev/null
  (cd "$work/src" && apt-get "${opts[@]}" source "fio=$version" >/dev/null 2>&1)
  mv "$work/src"/fio-*/ "$dest"
  say "configuring fio source (config-host.h only)"
  (cd "$dest" && ./configure >/dev/null)
  echo "$version" > "$stamp"
}

install_missing_packages
fetch_fio_source
say "ready"
