// nbdkit-fvdlink-filter.so: an nbdkit filter that serves reads on the simulator's network link
// model (serial_link.h), so that real mode's network bases behave as the simulator's network
// disks do: a fixed latency, one serialized link at a bandwidth, a uniform jitter.
//
//   nbdkit --filter=/path/nbdkit-fvdlink-filter.so file base.raw link-latency=2000000
//          link-rate=25000000 link-jitter=0 link-seed=1
//
// Times in nanoseconds, the rate in bytes per second. Why not nbdkit's rate and delay filters:
// the rate filter is a token bucket, so a read crosses it in no time while the bucket holds
// tokens (with a 0.1 s bucket at 200 Mbit/s and 2 ms, the prefetcher's reads saw no queueing
// and it took 88% of the link, where on a serialized link it saw its reads queue and took
// 30%), and a bucket small enough to act as a link starves its own threads (nbdcopy read
// 128 MiB in 27 s at a rate that allows 5.4 s, with burstiness=0.001). The delay filter counts
// whole milliseconds.
// Writes are refused (a base is read-only); everything else passes through.
#define NBDKIT_API_VERSION 2
#include <errno.h>
#include <nbdkit-filter.h>
#include <time.h>

#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>

#include "sim/real/serial_link.h"

namespace {

using fvd::sim::real::LinkModel;
using fvd::sim::real::SerialLink;

LinkModel model;
uint64_t seed = 1;
std::mutex lock;
std::optional<SerialLink> link;  // made once the configuration is complete

uint64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

int ParseU64(const char* key, const char* value, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || value[0] == '-') {
    nbdkit_error("%s=%s: not a whole number", key, value);
    return -1;
  }
  *out = v;
  return 0;
}

int LinkConfig(nbdkit_next_config* next, nbdkit_backend* nxdata, const char* key,
               const char* value) {
  if (std::strcmp(key, "link-latency") == 0) return ParseU64(key, value, &model.latency_ns);
  if (std::strcmp(key, "link-rate") == 0) return ParseU64(key, value, &model.bytes_per_s);
  if (std::strcmp(key, "link-jitter") == 0) return ParseU64(key, value, &model.jitter_ns);
  if (std::strcmp(key, "link-seed") == 0) return ParseU64(key, value, &seed);
  return next(nxdata, key, value);
}

int LinkConfigComplete(nbdkit_next_config_complete* next, nbdkit_backend* nxdata) {
  link.emplace(model, seed);
  return next(nxdata);
}

int LinkCanWrite(nbdkit_next*, void*) {
  return 0;
}

int LinkPread(nbdkit_next* next, void*, void* buf, uint32_t count, uint64_t offset, uint32_t flags,
              int* err) {
  uint64_t done = 0;
  {
    const std::lock_guard<std::mutex> hold(lock);
    done = link->Complete(NowNs(), count);
  }
  if (next->pread(next, buf, count, offset, flags, err) == -1) return -1;
  const timespec at{static_cast<time_t>(done / 1'000'000'000),
                    static_cast<long>(done % 1'000'000'000)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
  }
  return 0;
}

nbdkit_filter MakeFilter() {
  nbdkit_filter f;
  std::memset(&f, 0, sizeof(f));
  f.name = "fvdlink";
  f.longname = "fvd network link (the simulator's model)";
  f.config = LinkConfig;
  f.config_complete = LinkConfigComplete;
  f.config_help =
      "link-latency=<NS>  fixed latency of every read, in nanoseconds\n"
      "link-rate=<BYTES>  the link's bandwidth in bytes per second (0: unlimited)\n"
      "link-jitter=<NS>   plus a uniform jitter in [0, NS)\n"
      "link-seed=<N>      the jitter's seed";
  f.can_write = LinkCanWrite;
  f.pread = LinkPread;
  return f;
}

nbdkit_filter filter = MakeFilter();

}  // namespace

NBDKIT_REGISTER_FILTER(filter)
