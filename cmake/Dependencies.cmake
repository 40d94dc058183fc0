# Every dependency is a Debian package (scripts/setup.sh installs them) found here, once.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(rapidcheck REQUIRED)
find_package(Boost 1.74 REQUIRED)            # header-only parts: Intrusive, small_vector
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)                 # argument parsing for the command-line tools
find_package(nlohmann_json 3.10 REQUIRED)    # JSON output of the tools
find_package(absl REQUIRED)                  # flat_hash_map: the simulator's sparse state
# CRC32C: Intel ISA-L's crc32_iscsi, hardware-accelerated (SSE4.2/PCLMUL, or NEON on arm64).
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)
# Asynchronous file I/O for the POSIX device; the device falls back to a thread pool when the
# kernel refuses io_uring at run time.
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
# Base images on a remote NBD server (core/remote/): libnbd's asynchronous client, the NBD
# client library of the nbdkit project, so URIs, TLS and the protocol are not ours to write.
pkg_check_modules(LIBNBD REQUIRED IMPORTED_TARGET libnbd)

# Debian's own python3 (a pyenv python3 may come first on PATH and cannot see Debian's Python
# packages): the nightly gate (SciPy) and the sweep tool (python3-distributed) run with it.
find_program(DEBIAN_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
