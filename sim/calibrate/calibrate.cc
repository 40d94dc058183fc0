#include "sim/calibrate/calibrate.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/util/status.h"
#include "sim/calibrate/fit.h"
#include "sim/calibrate/host_probe.h"
#include "sim/config/units.h"
#include "sim/explore/child.h"

namespace fvd::sim::calibrate {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Where the probes write: a scratch file calibration made (and removes), or a device. Beside a
// scratch file, a sparse one (`fresh`) for the probes of never-written space.
struct Target {
  std::string path;
  bool scratch = false;
  bool device = false;
  uint64_t size = 0;
  std::string fresh() const { return scratch ? path + ".fresh" : ""; }
};

std::string Errno() {
  return std::strerror(errno);
}

Status CheckFolder(const std::string& dir, uint64_t size, bool direct, const std::string& path) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::NotFound(path + ": the folder " + dir + " does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return Status::Refused(path + ": cannot write in " + dir + " (" + Errno() + ")");
  }
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0) {
    const uint64_t free = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (free < size + (64ull << 20)) {
      return Status::NoSpace(path + ": needs " + FormatSize(size) +
                             " free for the scratch file and 64MiB to spare; " + dir + " has " +
                             FormatSize(free) + " (give a smaller --size)");
    }
  }
  struct statfs sfs {};
  if (direct && ::statfs(dir.c_str(), &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
    return Status::InvalidArgument(path + " is on tmpfs, which has no O_DIRECT: give --cache page");
  }
  return Status::Ok();
}

Result<Target> ResolveTarget(const CalibrateOptions& o) {
  struct stat st {};
  if (::stat(o.path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      FVD_RETURN_IF_ERROR(CheckFolder(o.path, o.size_bytes, o.direct, o.path));
      return Target{
          (fs::path(o.path) / ("fvdsim-calibrate-" + std::to_string(::getpid()) + ".scratch"))
              .string(),
          true, false, o.size_bytes};
    }
    if (S_ISBLK(st.st_mode)) {
      if (!o.device) {
        return Status::InvalidArgument(o.path +
                                       " is a block device: calibration would write over its "
                                       "data; give --device to allow that");
      }
      const int fd = ::open(o.path.c_str(), O_RDONLY);
      if (fd < 0) return Status::IoError(o.path + ": cannot open (" + Errno() + ")");
      const off_t end = ::lseek(fd, 0, SEEK_END);
      ::close(fd);
      if (end < static_cast<off_t>(64ull << 20)) {
        return Status::InvalidArgument(o.path + " is too small to calibrate (" +
                                       FormatSize(static_cast<uint64_t>(std::max<off_t>(end, 0))) +
                                       ", at least 64MiB)");
      }
      return Target{o.path, false, true, std::min<uint64_t>(o.size_bytes, end)};
    }
    return Status::InvalidArgument(o.path +
                                   " exists: give a folder (a scratch file is made in it) or a "
                                   "new file name");
  }
  const fs::path p(o.path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  FVD_RETURN_IF_ERROR(CheckFolder(dir, o.size_bytes, o.direct, o.path));
  return Target{o.path, true, false, o.size_bytes};
}

Result<std::string> FindFio(const std::string& fio) {
  if (fio.find('/') != std::string::npos) {
    if (::access(fio.c_str(), X_OK) == 0) return fio;
    return Status::NotFound(fio + " is not an executable (--fio)");
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t at = 0; at <= dirs.size();) {
    const size_t colon = std::min(dirs.find(':', at), dirs.size());
    const std::string candidate = dirs.substr(at, colon - at) + "/" + fio;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    at = colon + 1;
  }
  return Status::NotFound(fio +
                          " is not on PATH: calibration measures with fio (apt-get install "
                          "fio, or give --fio)");
}

double Mean(const json& job, const char* dir) {
  return job[dir]["clat_ns"].value("mean", 0.0);
}

// One fio job, and what it contributes to the measurement (null: the file's fill).
struct Probe {
  const char* what;
  std::vector<std::string> args;  // beside the common ones
  bool timed;  // runs for the probe time (else: until its args' amount of I/O is done)
  void (*take)(const json& job, Measured& m);
  bool fresh = false;   // on a new sparse file (Target::fresh); skipped without one
  bool capped = false;  // stops at the probe time too, without looping (timed: false)
};

std::vector<Probe> Probes() {
  return {
      {"fill the file", {"--rw=write", "--bs=1M", "--iodepth=8"}, false, nullptr},
      {"4 KiB random reads, QD1",
       {"--rw=randread", "--bs=4k", "--iodepth=1"},
       true,
       [](const json& j, Measured& m) {
         m.read_4k_ns = Mean(j, "read");
         m.read_4k_stddev_ns = j["read"]["clat_ns"].value("stddev", 0.0);
       }},
      {"64 KiB random reads, QD1",
       {"--rw=randread", "--bs=64k", "--iodepth=1"},
       true,
       [](const json& j, Measured& m) { m.read_64k_ns = Mean(j, "read"); }},
      {"4 KiB random reads, QD32",
       {"--rw=randread", "--bs=4k", "--iodepth=32"},
       true,
       [](const json& j, Measured& m) { m.read_4k_qd32_iops = j["read"].value("iops", 0.0); }},
      {"1 MiB sequential reads, QD8",
       {"--rw=read", "--bs=1M", "--iodepth=8"},
       true,
       [](const json& j, Measured& m) {
         m.seq_read_bytes_per_s = j["read"].value("bw_bytes", 0.0);
       }},
      {"4 KiB random writes, QD1",
       {"--rw=randwrite", "--bs=4k", "--iodepth=1"},
       true,
       [](const json& j, Measured& m) { m.write_4k_ns = Mean(j, "write"); }},
      {"4 KiB random writes, each with an fsync",
       {"--rw=randwrite", "--bs=4k", "--iodepth=1", "--fsync=1"},
       true,
       [](const json& j, Measured& m) {
         m.flush_ns = j.contains("sync") ? j["sync"]["lat_ns"].value("mean", 0.0) : 0.0;
       }},
      {"4 KiB random writes, QD32",
       {"--rw=randwrite", "--bs=4k", "--iodepth=32"},
       true,
       [](const json& j, Measured& m) { m.write_4k_qd32_iops = j["write"].value("iops", 0.0); }},
      {"4 KiB random writes with O_DSYNC, QD1",
       {"--rw=randwrite", "--bs=4k", "--iodepth=1", "--sync=dsync"},
       true,
       [](const json& j, Measured& m) { m.fua_write_4k_ns = Mean(j, "write"); }},
      {"4 KiB random writes with O_DSYNC, QD4",
       {"--rw=randwrite", "--bs=4k", "--iodepth=4", "--sync=dsync"},
       true,
       [](const json& j, Measured& m) { m.fua_write_4k_qd4_iops = j["write"].value("iops", 0.0); }},
      {"4 KiB random writes into a sparse file, QD1",
       {"--rw=randwrite", "--bs=4k", "--iodepth=1", "--fallocate=none"},
       true,
       [](const json& j, Measured& m) { m.fresh_write_4k_ns = Mean(j, "write"); },
       true},
      {"4 KiB random writes into a sparse file, each with an fsync",
       {"--rw=randwrite", "--bs=4k", "--iodepth=1", "--fsync=1", "--fallocate=none"},
       true,
       [](const json& j, Measured& m) {
         m.fresh_flush_ns = j.contains("sync") ? j["sync"]["lat_ns"].value("mean", 0.0) : 0.0;
       },
       true},
      // Every write into a hole: half the file's blocks at most (fio's random map repeats
      // none), or the probe time if that comes first.
      {"4 KiB random writes into a sparse file, QD32",
       {"--rw=randwrite", "--bs=4k", "--iodepth=32", "--fallocate=none", "--io_size=50%"},
       false,
       [](const json& j, Measured& m) {
         m.fresh_write_4k_qd32_iops = j["write"].value("iops", 0.0);
       },
       true,
       true},
      {"4 KiB random writes with O_DSYNC into a sparse file, QD4",
       {"--rw=randwrite", "--bs=4k", "--iodepth=4", "--sync=dsync", "--fallocate=none",
        "--io_size=50%"},
       false,
       [](const json& j, Measured& m) {
         m.fresh_fua_write_4k_qd4_iops = j["write"].value("iops", 0.0);
       },
       true,
       true},
  };
}

// A new sparse file of the target's size (fio then writes into holes only).
Status MakeSparse(const Target& t) {
  const std::string path = t.fresh();
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Status::IoError(path + ": cannot create (" + Errno() + ")");
  const bool sized = ::ftruncate(fd, static_cast<off_t>(t.size)) == 0;
  ::close(fd);
  if (!sized) return Status::IoError(path + ": cannot size (" + Errno() + ")");
  return Status::Ok();
}

Result<json> RunProbe(const std::string& fio, const Target& t, const CalibrateOptions& o,
                      const Probe& p) {
  std::vector<std::string> argv = {fio,
                                   "--name=calibrate",
                                   "--filename=" + (p.fresh ? t.fresh() : t.path),
                                   "--size=" + std::to_string(t.size),
                                   "--ioengine=io_uring",
                                   std::string("--direct=") + (o.direct ? "1" : "0"),
                                   "--output-format=json"};
  argv.insert(argv.end(), p.args.begin(), p.args.end());
  if (p.timed) argv.push_back("--time_based");
  if (p.timed || p.capped)
    argv.push_back("--runtime=" + std::to_string(static_cast<int>(o.runtime_s * 1000)) + "ms");
  explore::ChildPool pool(1);
  const auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.runtime_s * 1000) * 10 + 120'000);
  FVD_RETURN_IF_ERROR(pool.Start(0, argv, timeout));
  const explore::ChildResult r = pool.Next();
  const std::string failed = std::string("fio (") + p.what + ") on " + t.path;
  if (r.timed_out) return Status::IoError(failed + " did not finish");
  if (r.exit_code != 0) {
    return Status::IoError(failed + " failed (exit " + std::to_string(r.exit_code) +
                           "): " + r.err_tail);
  }
  const size_t brace = r.out.find('{');
  json j = json::parse(brace == std::string::npos ? "" : r.out.substr(brace), nullptr, false);
  if (j.is_discarded() || !j.contains("jobs") || j["jobs"].empty()) {
    return Status::IoError(failed + " printed no JSON result");
  }
  if (j["jobs"][0].value("error", 0) != 0) {
    return Status::IoError(failed + ": fio error " +
                           std::to_string(j["jobs"][0].value("error", 0)));
  }
  return j["jobs"][0];
}

// Removes the scratch file however calibration ends.
struct ScratchGuard {
  const Target& t;
  ~ScratchGuard() {
    if (!t.scratch) return;
    ::unlink(t.path.c_str());
    ::unlink(t.fresh().c_str());
  }
};

Result<Measured> Measure(const std::string& fio, const Target& t, const CalibrateOptions& o,
                         json& raw, json& raw_host) {
  const std::vector<Probe> probes = Probes();
  const size_t total = probes.size() + (t.scratch ? 1 : 0);  // and the host's, on a file system
  Measured m;
  for (size_t i = 0; i < probes.size(); ++i) {
    if (probes[i].fresh && !t.scratch) continue;  // a device has no holes
    std::fprintf(stderr, "calibrate: [%zu/%zu] %s\n", i + 1, total, probes[i].what);
    if (probes[i].fresh) FVD_RETURN_IF_ERROR(MakeSparse(t));
    FVD_ASSIGN_OR_RETURN(json job, RunProbe(fio, t, o, probes[i]));
    if (probes[i].take != nullptr) probes[i].take(job, m);
    raw[probes[i].what] = std::move(job);
  }
  if (m.read_4k_ns <= 0 || m.seq_read_bytes_per_s <= 0 || m.write_4k_ns <= 0) {
    return Status::IoError("fio on " + t.path + " measured no reads or writes");
  }
  if (t.scratch) {  // real mode needs a folder to make its image in
    std::fprintf(stderr, "calibrate: [%zu/%zu] the host's CPU per request (real mode, four runs)\n",
                 total, total);
    const std::string dir = fs::path(t.path).parent_path().string();
    const auto ops = static_cast<uint64_t>(std::max(2000.0, 5000 * o.runtime_s));
    FVD_ASSIGN_OR_RETURN(HostProbe host, ProbeHost(dir.empty() ? "." : dir, o.direct, t.size, ops));
    m.host_cpu_per_request_ns = host.cpu_ns_per_request;
    m.fresh_write_host_cpu_ns = host.fresh_write_cpu_ns;
    raw_host = {{"cpu_ns_per_request", host.cpu_ns_per_request},
                {"fresh_write_cpu_ns", host.fresh_write_cpu_ns},
                {"requests", host.requests},
                {"cpu_s", host.cpu_s},
                {"wall_s", host.wall_s}};
  }
  return m;
}

std::string Comment(const CalibrateOptions& o, const Target& t, const Measured& m) {
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "Disk model measured by fvdsim calibrate %s (%s, %.0f ms per probe, a %s %s), %s.\n"
      "Measured with fio (io_uring): 4 KiB random reads at QD1 %.1f us (stddev %.1f us),\n"
      "64 KiB %.1f us, at QD32 %.0f IOPS; 1 MiB sequential reads %.0f MB/s; 4 KiB random\n"
      "writes at QD1 %.1f us, with O_DSYNC %.1f us, at QD32 %.0f IOPS; an fsync after a 4 KiB\n"
      "write %.1f us; into a sparse file (0: not measured) a 4 KiB write %.1f us, an fsync\n"
      "after one %.1f us, writes at QD32 %.0f IOPS. O_DSYNC writes at QD4 %.0f IOPS, into a\n"
      "sparse file %.0f IOPS. Real mode spent %.1f us of CPU per request over written data and\n"
      "%.1f us writing into a new image (0: not measured).\n"
      "Use it in a workload file: disks: [{name: mine, model: FILE}]",
      o.path.c_str(), o.direct ? "O_DIRECT" : "page cache", o.runtime_s * 1000,
      FormatSize(t.size).c_str(), t.device ? "device" : "scratch file", when, m.read_4k_ns / 1e3,
      m.read_4k_stddev_ns / 1e3, m.read_64k_ns / 1e3, m.read_4k_qd32_iops,
      m.seq_read_bytes_per_s / 1e6, m.write_4k_ns / 1e3, m.fua_write_4k_ns / 1e3,
      m.write_4k_qd32_iops, m.flush_ns / 1e3, m.fresh_write_4k_ns / 1e3, m.fresh_flush_ns / 1e3,
      m.fresh_write_4k_qd32_iops, m.fua_write_4k_qd4_iops, m.fresh_fua_write_4k_qd4_iops,
      m.host_cpu_per_request_ns / 1e3, m.fresh_write_host_cpu_ns / 1e3);
  return buf;
}

// Per probe, the completion latency fio saw (mean, p50, p99) and IOPS: what the fit does not
// use (the tails, the other sizes), for a reader comparing a model with its device.
json ProbeLatencies(const json& raw) {
  json out = json::object();
  for (const auto& [what, job] : raw.items()) {
    const char* dir = job["write"].value("total_ios", 0) > 0 ? "write" : "read";
    const json& clat = job[dir]["clat_ns"];
    const json pct = clat.value("percentile", json::object());
    out[what] = {{"direction", dir},
                 {"iops", job[dir].value("iops", 0.0)},
                 {"mean_ns", clat.value("mean", 0.0)},
                 {"p50_ns", pct.value("50.000000", 0)},
                 {"p99_ns", pct.value("99.000000", 0)}};
  }
  return out;
}

}  // namespace

int Calibrate(const CalibrateOptions& o) {
  auto fail = [](const Status& s) {
    std::cerr << "fvdsim calibrate: " << s.message() << "\n";
    return 2;
  };
  if (o.size_bytes < (16ull << 20) || o.size_bytes % 4096 != 0) {
    return fail(Status::InvalidArgument("--size " + std::to_string(o.size_bytes) +
                                        ": at least 16MiB, a multiple of 4KiB"));
  }
  if (!(o.runtime_s > 0)) return fail(Status::InvalidArgument("--runtime must be positive"));
  const Result<std::string> fio = FindFio(o.fio);
  if (!fio.ok()) return fail(fio.status());
  const Result<Target> target = ResolveTarget(o);
  if (!target.ok()) return fail(target.status());
  if (target->device) {
    std::cerr << "fvdsim calibrate: writing over the first " << FormatSize(target->size)
              << " of the block device " << target->path << "\n";
  }
  json raw, raw_host = json::object();
  Result<Measured> m = [&] {
    ScratchGuard guard{*target};
    return Measure(*fio, *target, o, raw, raw_host);
  }();
  if (!m.ok()) return fail(m.status());
  const DiskConfig model = FitModel(*m);
  const std::string text = ModelYaml(model, Comment(o, *target, *m));
  if (!o.out.empty()) {
    std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return fail(Status::IoError("cannot write the model to " + o.out));
  }
  if (o.json) {
    const json j = {{"path", o.path},
                    {"direct", o.direct},
                    {"measured",
                     {{"read_4k_ns", m->read_4k_ns},
                      {"read_4k_stddev_ns", m->read_4k_stddev_ns},
                      {"read_64k_ns", m->read_64k_ns},
                      {"read_4k_qd32_iops", m->read_4k_qd32_iops},
                      {"seq_read_bytes_per_s", m->seq_read_bytes_per_s},
                      {"write_4k_ns", m->write_4k_ns},
                      {"write_4k_qd32_iops", m->write_4k_qd32_iops},
                      {"flush_ns", m->flush_ns},
                      {"fua_write_4k_ns", m->fua_write_4k_ns},
                      {"fresh_write_4k_ns", m->fresh_write_4k_ns},
                      {"fresh_flush_ns", m->fresh_flush_ns},
                      {"fresh_write_4k_qd32_iops", m->fresh_write_4k_qd32_iops},
                      {"fua_write_4k_qd4_iops", m->fua_write_4k_qd4_iops},
                      {"fresh_fua_write_4k_qd4_iops", m->fresh_fua_write_4k_qd4_iops},
                      {"host_cpu_per_request_ns", m->host_cpu_per_request_ns},
                      {"fresh_write_host_cpu_ns", m->fresh_write_host_cpu_ns}}},
                    {"probes", ProbeLatencies(raw)},
                    {"host_probe", raw_host},
                    {"model",
                     {{"read_latency_ns", model.read_latency_ns},
                      {"write_latency_ns", model.write_latency_ns},
                      {"flush_latency_ns", model.flush_latency_ns},
                      {"fua_write_latency_ns", model.fua_write_latency_ns},
                      {"write_service_ns", model.write_service_ns},
                      {"fresh_write_service_ns", model.fresh_write_service_ns},
                      {"fua_write_service_ns", model.fua_write_service_ns},
                      {"fresh_fua_write_service_ns", model.fresh_fua_write_service_ns},
                      {"host_cost_ns", model.host_cost_ns},
                      {"fresh_write_host_cost_ns", model.fresh_write_host_cost_ns},
                      {"fresh_write_latency_ns", model.fresh_write_latency_ns},
                      {"fresh_flush_latency_ns", model.fresh_flush_latency_ns},
                      {"bandwidth_bytes_per_s", model.bandwidth_bytes_per_s},
                      {"jitter_ns", model.jitter_ns},
                      {"queue_depth", model.queue_depth},
                      {"volatile_cache", model.volatile_cache}}},
                    {"out", o.out}};
    std::cout << j.dump(2) << "\n";
  } else if (o.out.empty()) {
    std::cout << text;
  } else {
    std::cout << "calibrate: wrote the disk model to " << o.out << "\n";
  }
  return 0;
}

}  // namespace fvd::sim::calibrate
