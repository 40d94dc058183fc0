#include "sim/real/real_run.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <tuple>
#include <vector>

#include "core/image/image_file.h"
#include "core/util/prng.h"
#include "sim/config/yaml_loader.h"    // LocateKey
#include "sim/disk/initial_content.h"  // FillInitialSector
#include "sim/real/base_server.h"
#include "sim/real/vm_process.h"
#include "sim/world/image_plan.h"
#include "sim/world/vm.h"
#include "tools/host/posix_files.h"

namespace fvd::sim::real {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kSector = 512;

// What a real run cannot do, refused before anything is written; the message names the key and,
// when the file holds it, its line and column.
Status Refuse(const WorkloadConfig& c, const std::string& file) {
  const auto no = [&](const std::vector<std::string>& steps, const std::string& key,
                      const std::string& why) {
    const std::string at = file.empty() ? "" : LocateKey(file, steps);
    return Status::Unsupported((at.empty() ? "" : at + ": ") + key +
                               ": not in real mode (fvdsim run --real): " + why);
  };
  for (size_t i = 0; i < c.crashes.size(); ++i) {
    if (c.crashes[i].after_ops > 0) {
      const std::string n = std::to_string(i);
      return no({"crashes", n, "after_ops"}, "crashes[" + n + "].after_ops",
                "a run cannot count the engine's device operations from outside its process; "
                "give at or random_per_hour");
    }
  }
  if (!c.errors.empty()) {
    return no({"errors"}, "errors", "a real device cannot be told to fail an operation");
  }
  if (!c.latency_spikes.empty()) {
    return no({"latency_spikes"}, "latency_spikes", "a real device cannot be told to stall");
  }
  for (size_t i = 0; i < c.vms.size(); ++i) {
    const ImageConfig& image = c.vms[i].image;
    const std::string n = std::to_string(i);
    const std::string key = "vms[" + n + "].image.";
    if (image.data_file) return no({"vms", n, "image", "data_file"}, key + "data_file", "not yet");
    if (image.record_prefetch_profile) {
      return no({"vms", n, "image", "record_prefetch_profile"}, key + "record_prefetch_profile",
                "not yet");
    }
    if (!image.prefetch_profile_from.empty()) {
      return no({"vms", n, "image", "prefetch_profile_from"}, key + "prefetch_profile_from",
                "not yet");
    }
  }
  return Status::Ok();
}

// A base's bytes as the simulator makes them: token sectors up to `nonzero`, zeros after.
Status WriteBase(const std::string& path, const BaseImageConfig& b, uint64_t content_seed) {
  const uint64_t nonzero = SeededBytes(b);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0)
    return Status::IoError(path + ": cannot create the base (" + std::strerror(errno) + ")");
  Status s;
  if (::ftruncate(fd, static_cast<off_t>(b.size_bytes)) != 0) {
    s = Status::IoError(path + ": cannot size the base (" + std::strerror(errno) + ")");
  }
  std::vector<std::byte> buf(1 << 20);
  const uint64_t end = std::min(b.size_bytes, (nonzero + kSector - 1) / kSector * kSector);
  for (uint64_t at = 0; s.ok() && at < end; at += buf.size()) {
    const uint64_t n = std::min<uint64_t>(buf.size(), end - at);
    for (uint64_t i = 0; i < n; i += kSector) {
      FillInitialSector(content_seed, nonzero, (at + i) / kSector,
                        std::span(buf).subspan(i, kSector));
    }
    if (::pwrite(fd, buf.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
      s = Status::IoError(path + ": cannot write the base (" + std::strerror(errno) + ")");
    }
  }
  ::close(fd);
  return s;
}

struct RealVm {
  std::unique_ptr<BlockDevice> image;
  std::unique_ptr<BlockDevice> base;
  std::unique_ptr<Vm> vm;
};

// Everything a run creates in dir, removed at the end unless kept.
struct Created {
  std::vector<std::string> files;
  bool keep = false;
  ~Created() {
    if (keep) return;
    for (const std::string& f : files) ::unlink(f.c_str());
  }
};

// The simulator's times count from 0; the real clock's from boot. Moves `s` to the run's.
void FromRunStart(VmStats& s, uint64_t origin) {
  const auto shift = [origin](uint64_t& t) { t = t >= origin ? t - origin : 0; };
  const auto shift_signed = [origin](int64_t& t) {
    if (t >= 0) t = std::max<int64_t>(t - static_cast<int64_t>(origin), 0);
  };
  shift(s.start_ns);
  shift(s.end_ns);
  shift_signed(s.prefetch_started_ns);
  shift_signed(s.prefetch_finished_ns);
  shift_signed(s.last_guest_base_read_ns);
  for (PhaseStats& p : s.phases) {
    shift(p.start_ns);
    shift(p.end_ns);
  }
}

const DiskConfig* DiskNamed(const WorkloadConfig& c, const std::string& name) {
  for (const DiskConfig& d : c.disks)
    if (d.name == name) return &d;
  return nullptr;
}

Status CheckDir(const RealOptions& o) {
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec || !fs::is_directory(o.dir)) {
    return Status::IoError("--real " + o.dir + ": not a folder we can use (" + ec.message() + ")");
  }
  struct statfs sfs {};
  if (o.direct && ::statfs(o.dir.c_str(), &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
    return Status::InvalidArgument("--real " + o.dir +
                                   " is on tmpfs, which has no O_DIRECT: leave out --direct");
  }
  return Status::Ok();
}

uint64_t Elapsed(const std::chrono::steady_clock::time_point& since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since)
          .count());
}

// No crashes: every VM in this process, on one loop; with a time series if `record`.
Result<RealRun> RunInProcess(const WorkloadConfig& config, const std::vector<VmPlan>& plans,
                             host::PosixFiles& files, bool record) {
  Trace trace;
  Violations violations;
  FaultGate faults;
  SimOptions sim_options;
  std::vector<RealVm> vms;
  RealRun run;
  if (record) {
    // Base bytes read so far over every VM (the series' load on the base servers); asked only
    // while the VMs run.
    run.recorder = std::make_unique<Recorder>([&vms] {
      uint64_t bytes = 0;
      for (const RealVm& r : vms) bytes += r.vm->BaseBytesSoFar();
      return bytes;
    });
  }
  for (const VmPlan& p : plans) {
    RealVm r;
    FVD_ASSIGN_OR_RETURN(r.image, files.Open(p.image_path, OpenMode::kReadWrite));
    if (!p.base_at.empty()) {
      FVD_ASSIGN_OR_RETURN(r.base, files.OpenBase(p.base_at));
    }
    VmWorld world{
        files.loop(), files.loop(), files.random(),
        trace,        violations,   faults,
        sim_options,  nullptr,      [](const std::string&) { return std::vector<ByteRange>{}; }};
    r.vm = std::make_unique<Vm>(world, p.config.name, p.id, p.config,
                                VmDisks{nullptr, *r.image, nullptr, nullptr, r.base.get()},
                                p.config.image.size_bytes, p.seed,
                                OriginalValues(p.content_seed, p.seeded_bytes, p.base_len));
    r.vm->SetNoCrashes();
    r.vm->SetRecorder(run.recorder.get());
    vms.push_back(std::move(r));
  }
  PosixEventLoop& loop = files.loop();
  const auto start = loop.Now();
  const auto wall_start = std::chrono::steady_clock::now();
  auto all_done = [&] {
    return std::all_of(vms.begin(), vms.end(), [](const RealVm& r) { return r.vm->finished(); });
  };
  bool timed_out = false;
  const TimerId limit = loop.ScheduleAfter(Duration(static_cast<int64_t>(config.max_time_ns)), [&] {
    if (all_done()) return;
    timed_out = true;
    for (RealVm& r : vms) r.vm->Stop();  // they drain, check and close as usual
  });
  for (RealVm& r : vms) r.vm->Start();
  loop.RunUntil(all_done);
  loop.Cancel(limit);
  SimResult& result = run.result;
  result.timed_out = timed_out;
  result.sim_time_ns = static_cast<uint64_t>((loop.Now() - start).count());
  result.wall_time_ns = Elapsed(wall_start);
  result.events = trace.events();
  result.digest = trace.digest();
  result.violations = violations.messages;
  result.signatures = violations.signatures;
  for (const RealVm& r : vms) {
    result.vms.push_back(
        {r.vm->name(), r.vm->stats(), r.vm->image_stats() ? *r.vm->image_stats() : ImageStats{}});
  }
  return run;  // `vms` close every file here
}

// With crashes: each VM in processes of its own (vm_process.h), killed at the crash times.
Result<RealRun> RunWithKills(const WorkloadConfig& config, uint64_t seed,
                             const std::vector<VmPlan>& plans, host::PosixFiles& files,
                             bool record) {
  Violations violations;
  std::vector<std::unique_ptr<VmProcess>> vms;
  RealRun run;
  if (record) {  // asked only while the lives run, so `vms` is there
    run.recorder = std::make_unique<Recorder>([&vms] {
      uint64_t bytes = 0;
      for (const auto& vm : vms) bytes += vm->base_bytes_read();
      return bytes;
    });
  }
  for (const VmPlan& p : plans) {
    FVD_ASSIGN_OR_RETURN(auto vm, VmProcess::Create(p, files, violations));
    vm->SetRecorder(run.recorder.get());
    vms.push_back(std::move(vm));
  }
  SimResult& result = run.result;
  result.crash_schedule_ns = CrashTimes(config, seed);
  std::vector<std::pair<uint64_t, std::string>> kills;  // (time, vm pattern), in time order
  for (size_t i = 0; i < config.crashes.size(); ++i) {
    for (uint64_t t : result.crash_schedule_ns[i]) kills.emplace_back(t, config.crashes[i].vm);
  }
  std::stable_sort(kills.begin(), kills.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Crash times and max_time count from the run's start, on the clock the lives share.
  const uint64_t run_start = plans.empty() ? 0 : plans.front().run_start_ns;
  const auto since_start = [&] { return NowNs(files.loop()) - run_start; };
  for (auto& vm : vms) FVD_RETURN_IF_ERROR(vm->Start());
  size_t next = 0;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<VmProcess*> polled;
    for (auto& vm : vms) {
      if (!vm->running()) continue;
      fds.push_back({vm->fd(), POLLIN, 0});
      polled.push_back(vm.get());
    }
    if (fds.empty()) break;
    int timeout_ms = -1;
    if (next < kills.size()) {
      const uint64_t now = since_start();
      timeout_ms = kills[next].first > now
                       ? static_cast<int>((kills[next].first - now + 999'999) / 1'000'000)
                       : 0;
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      return Status::IoError(std::string("poll: ") + std::strerror(errno));
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) FVD_RETURN_IF_ERROR(polled[i]->Read());
    }
    for (; next < kills.size() && since_start() >= kills[next].first; ++next) {
      for (auto& vm : vms) {
        if (!vm->running() || !CrashApplies(kills[next].second, vm->name())) continue;
        FVD_RETURN_IF_ERROR(vm->Kill());
        ++result.crashes;
        FVD_RETURN_IF_ERROR(vm->Recover());
        if (!vm->stopped() && !vm->finished()) FVD_RETURN_IF_ERROR(vm->Start());
      }
    }
  }
  result.timed_out =
      std::any_of(vms.begin(), vms.end(), [](const auto& v) { return v->timed_out(); });
  result.wall_time_ns = since_start();
  result.sim_time_ns = result.wall_time_ns;
  result.violations = violations.messages;
  result.signatures = violations.signatures;
  for (const auto& vm : vms) result.vms.push_back(vm->Report());
  return run;
}

}  // namespace

Result<RealRun> RunReal(const WorkloadConfig& config, uint64_t seed, const RealOptions& o) {
  FVD_RETURN_IF_ERROR(Refuse(config, o.workload_file));

  FVD_RETURN_IF_ERROR(CheckDir(o));
  // Every file first: nothing is written over.
  std::vector<std::string> names;
  for (const BaseImageConfig& b : config.bases) names.push_back(b.name);
  for (const VmConfig& v : config.vms) {
    for (uint32_t i = 0; i < v.count; ++i) names.push_back(GroupMember(v, i, 0).name + ".fvd");
  }
  for (const std::string& n : names) {
    if (fs::exists(fs::path(o.dir) / n)) {
      return Status::InvalidArgument("--real " + o.dir + ": " + n +
                                     " is there already; a run would overwrite it");
    }
  }
  FVD_ASSIGN_OR_RETURN(host::PosixFiles files, host::PosixFiles::Create());
  files.set_direct(o.direct);
  Created created;
  created.keep = o.keep;
  std::map<std::string, std::pair<uint64_t, uint64_t>> content;  // base -> seed, nonzero
  std::map<std::string, std::string> base_at;                    // base -> file or NBD URI
  std::vector<std::unique_ptr<BaseServer>> servers;              // outlive the VMs' devices
  std::vector<std::string> notes;
  uint64_t component = 16;
  for (const BaseImageConfig& b : config.bases) {
    const std::string path = (fs::path(o.dir) / b.name).string();
    const uint64_t content_seed = DeriveSeed(seed, component++);
    FVD_RETURN_IF_ERROR(WriteBase(path, b, content_seed));
    created.files.push_back(path);
    content[b.name] = {content_seed, SeededBytes(b)};
    base_at[b.name] = path;
    const DiskConfig* disk = DiskNamed(config, b.disk);
    if (disk == nullptr || !disk->shared_bandwidth) continue;
    if (o.local_bases) {
      notes.push_back("base " + b.name + " (on network disk " + b.disk +
                      "): read as a local file (--local-bases)");
      continue;
    }
    FVD_ASSIGN_OR_RETURN(std::unique_ptr<BaseServer> server,
                         BaseServer::Start(path, b.name, *disk, DeriveSeed(seed, component++)));
    base_at[b.name] = server->uri();
    notes.push_back(server->note());
    servers.push_back(std::move(server));
  }
  // Every VM's image, created; what a process needs to run it.
  std::vector<VmPlan> plans;
  const uint64_t run_start = NowNs(files.loop());
  for (const VmConfig& vc : config.vms) {
    for (uint32_t i = 0; i < vc.count; ++i) {
      uint64_t base_len = 0;
      for (const BaseImageConfig& b : config.bases)
        if (b.name == vc.base) base_len = b.size_bytes;
      VmPlan plan;
      plan.config = GroupMember(vc, i, base_len);
      plan.id = plans.size();
      plan.image_path = (fs::path(o.dir) / (plan.config.name + ".fvd")).string();
      plan.base_at = vc.base.empty() ? "" : base_at.at(vc.base);
      plan.base_len = base_len;
      if (!vc.base.empty()) std::tie(plan.content_seed, plan.seeded_bytes) = content.at(vc.base);
      plan.seed = DeriveSeed(seed, component++);
      plan.direct = o.direct;
      plan.run_start_ns = run_start;
      plan.max_time_ns = config.max_time_ns;
      FVD_ASSIGN_OR_RETURN(format::Header h, PlanVmImage(plan.config, base_len));
      FVD_ASSIGN_OR_RETURN(auto image,
                           files.Open(plan.image_path, OpenMode::kReadWrite, /*create=*/true));
      created.files.push_back(plan.image_path);
      FVD_RETURN_IF_ERROR(
          WriteNewImage(*image, nullptr, files.drive(), h)
              .WithContext("vm " + plan.config.name + ": creating " + plan.image_path));
      plans.push_back(std::move(plan));
    }
  }
  RealRun run;
  SimResult& result = run.result;
  if (config.crashes.empty()) {
    FVD_ASSIGN_OR_RETURN(run, RunInProcess(config, plans, files, o.record));
  } else {
    FVD_ASSIGN_OR_RETURN(run, RunWithKills(config, seed, plans, files, o.record));
    notes.push_back(
        "crashes are process kills: each VM's image lives in a process of its own, killed with "
        "SIGKILL at the crash times, then recovered and checked as after a power loss (what a "
        "completed flush covered must survive; later writes may or may not)");
  }
  result.seed = seed;
  result.bases = config.bases;
  result.notes = std::move(notes);
  for (VmReport& r : result.vms) FromRunStart(r.stats, run_start);
  if (run.recorder) run.recorder->CountFrom(run_start);
  return run;  // `created` removes the files unless kept; `servers` stop first
}

}  // namespace fvd::sim::real
