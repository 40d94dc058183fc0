#include "sim/world/simulation.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "core/format/layout.h"
#include "core/image/image_file.h"
#include "core/seam/random.h"
#include "core/util/units.h"
#include "sim/disk/error_device.h"
#include "sim/disk/initial_content.h"
#include "sim/disk/latency_spike.h"
#include "sim/disk/op_trigger.h"
#include "sim/world/image_plan.h"

namespace fvd::sim {
namespace {

// Sub-seed indexes, in a fixed order (ARCHITECTURE.md "Determinism").
enum SeedIndex : uint64_t {
  kTieBreak = 0,
  kEngineRandom = 1,
  kCrashChoices = 2,
  kCrashTimes = 3,  // image_plan.cc's CrashTimes
  kFirstComponent = 16,
};

}  // namespace

struct Simulation::World {
  WorkloadConfig config;
  uint64_t seed;
  SimOptions options;
  std::unique_ptr<Recorder> recorder;
  VirtualLoop loop;
  PrngRandomSource engine_random;
  Prng crash_choices;
  Trace trace;
  Violations violations;
  FaultGate faults;  // held while images are created, and while a VM first opens, recovers,
                     // checks or closes (error_device.h)
  std::vector<std::vector<uint64_t>> crash_schedule;  // per crash entry: the times scheduled
  SimHost host;  // one thread drives every disk, as in real mode (DiskConfig::host_cost_ns)
  std::vector<std::unique_ptr<SimDisk>> disks;  // every disk instance
  std::vector<std::string> disk_names;
  std::vector<std::unique_ptr<BlockDevice>> decorators;  // latency spikes, errors
  std::map<std::string, BlockDevice*> base_devices;      // base name -> top of its stack
  std::map<std::string, SimDisk*> base_disks;
  struct Content {
    uint64_t seed, nonzero;
  };
  std::map<std::string, Content> base_content;  // bases are never written: content is a function
  std::vector<std::unique_ptr<Vm>> vms;
  std::vector<SimDisk*> vm_disks;
  uint64_t next_component = kFirstComponent;

  World(const WorkloadConfig& c, uint64_t s, const SimOptions& o)
      : config(c),
        seed(s),
        options(o),
        loop(DeriveSeed(s, kTieBreak)),
        engine_random(DeriveSeed(s, kEngineRandom)),
        crash_choices(DeriveSeed(s, kCrashChoices)) {}

  uint64_t NextSeed() { return DeriveSeed(seed, next_component++); }

  Result<DiskConfig> Model(const std::string& name) const {
    for (const DiskConfig& d : config.disks) {
      if (d.name != name) continue;
      return d;  // the loader already applied its preset
    }
    return Status::InvalidArgument("no disk named '" + name + "'");
  }

  // A new disk instance of model `name`, with its configured fault decorators stacked on top.
  Result<BlockDevice*> NewDisk(const std::string& name, uint64_t size, SimDisk** raw) {
    FVD_ASSIGN_OR_RETURN(DiskConfig model, Model(name));
    disks.push_back(std::make_unique<SimDisk>(loop, model, size, disks.size(), NextSeed(), &trace));
    disks.back()->ShareHost(host);
    disk_names.push_back(name + "#" + std::to_string(disks.size() - 1));
    *raw = disks.back().get();
    BlockDevice* top = disks.back().get();
    for (const LatencySpikeConfig& s : config.latency_spikes) {
      if (s.disk != name) continue;
      decorators.push_back(std::make_unique<LatencySpikeDevice>(*top, loop, s, NextSeed()));
      top = decorators.back().get();
    }
    for (const ErrorConfig& e : config.errors) {
      if (e.disk != name) continue;
      FVD_ASSIGN_OR_RETURN(auto dev, ErrorDevice::Create(*top, loop, e, NextSeed(), &faults));
      decorators.push_back(std::move(dev));
      top = decorators.back().get();
    }
    return top;
  }

  Status BuildBases() {
    for (const BaseImageConfig& b : config.bases) {
      SimDisk* raw = nullptr;
      FVD_ASSIGN_OR_RETURN(BlockDevice * top, NewDisk(b.disk, b.size_bytes, &raw));
      const uint64_t nonzero = SeededBytes(b);
      const uint64_t content_seed = NextSeed();
      raw->SetInitialContent(content_seed, nonzero);
      base_devices[b.name] = top;
      base_disks[b.name] = raw;
      base_content[b.name] = {content_seed, nonzero};
    }
    return Status::Ok();
  }

  // The profile a VM (a group name means its first member) has recorded so far.
  std::vector<ByteRange> ProfileOf(const std::string& name) const {
    for (const auto& vm : vms)
      if (vm->name() == name || vm->name() == name + "-0") return vm->recorded_profile();
    return {};
  }

  Status CreateImage(BlockDevice& dev, BlockDevice* data, const VmConfig& vm, uint64_t base_len) {
    FVD_ASSIGN_OR_RETURN(format::Header h, PlanVmImage(vm, base_len));
    const LoopDriver drive = [this](const std::function<bool()>& done) { loop.RunUntil(done); };
    return WriteNewImage(dev, data, drive, h).WithContext("creating the image");
  }

  // Crashes "after N operations of a kind" count the device operations of the VM's image disk.
  Result<BlockDevice*> AddOpTriggers(BlockDevice& dev, const std::string& vm_name,
                                     size_t vm_index) {
    BlockDevice* top = &dev;
    for (const CrashConfig& c : config.crashes) {
      if (c.after_ops == 0 || !CrashApplies(c.vm, vm_name)) continue;
      FVD_ASSIGN_OR_RETURN(const ErrorOp op, ParseErrorOp(c.op));
      auto fired = std::make_shared<uint32_t>(0);
      decorators.push_back(std::make_unique<OpTriggerDevice>(
          *top, loop, op, c.after_ops,
          [this, vm_index, fired, max = c.max_crashes, fates = c.fates] {
            if (*fired >= max || !vms[vm_index]->running()) return;
            ++*fired;
            vms[vm_index]->Crash(crash_choices, fates);
          },
          c.on == "complete" ? OpTriggerDevice::CountOn::kComplete
                             : OpTriggerDevice::CountOn::kSubmit));
      top = decorators.back().get();
    }
    return top;
  }

  Status BuildVms() {
    for (const VmConfig& vc : config.vms) {
      for (uint32_t i = 0; i < vc.count; ++i) {
        BlockDevice* base = nullptr;
        uint64_t base_len = 0;
        if (!vc.base.empty()) {
          base = base_devices.at(vc.base);
          base_len = base_disks.at(vc.base)->size();
        }
        const VmConfig adjusted = GroupMember(vc, i, base_len);
        const std::string& name = adjusted.name;
        const uint64_t size = adjusted.image.size_bytes;
        SimDisk* raw = nullptr;
        FVD_ASSIGN_OR_RETURN(BlockDevice * top, NewDisk(vc.disk, 0, &raw));
        FVD_ASSIGN_OR_RETURN(top, AddOpTriggers(*top, name, vms.size()));
        // A separate data file: another disk of the image's model, on the same host.
        SimDisk* data_raw = nullptr;
        BlockDevice* data_top = nullptr;
        if (vc.image.data_file) {
          FVD_ASSIGN_OR_RETURN(data_top, NewDisk(vc.disk, 0, &data_raw));
        }
        {
          FaultGateHold setup(&faults);  // errors hit the workload, not the image's creation
          FVD_RETURN_IF_ERROR(
              CreateImage(*top, data_top, adjusted, base_len).WithContext("vm " + name));
        }
        const Content content = vc.base.empty() ? Content{0, 0} : base_content.at(vc.base);
        VmWorld vw{
            loop,    loop,       engine_random,
            trace,   violations, faults,
            options, nullptr,    [this](const std::string& vm_name) { return ProfileOf(vm_name); }};
        vms.push_back(std::make_unique<Vm>(
            vw, name, vms.size(), adjusted, VmDisks{raw, *top, data_raw, data_top, base}, size,
            NextSeed(), OriginalValues(content.seed, content.nonzero, base_len)));
        // A VM no crash can hit keeps only latest values in its oracle; one whose image disk
        // gets injected errors may need a reopen after them, checked as after a crash.
        const bool crashes =
            std::any_of(config.crashes.begin(), config.crashes.end(),
                        [&](const CrashConfig& c) { return CrashApplies(c.vm, name); });
        const bool errors = std::any_of(config.errors.begin(), config.errors.end(),
                                        [&](const ErrorConfig& e) { return e.disk == vc.disk; });
        if (!crashes && !errors) vms.back()->SetNoCrashes();
        vm_disks.push_back(raw);
      }
    }
    return Status::Ok();
  }

  // Crash events: at fixed times, or at random (uniform over the run, drawn up front).
  void ScheduleCrashes() {
    crash_schedule = CrashTimes(config, seed);
    for (size_t i = 0; i < config.crashes.size(); ++i) {
      const CrashConfig& c = config.crashes[i];
      for (uint64_t t : crash_schedule[i]) {
        loop.ScheduleAfter(Duration(static_cast<int64_t>(t)), [this, vm = c.vm, fates = c.fates] {
          for (auto& v : vms) {
            if (CrashApplies(vm, v->name())) v->Crash(crash_choices, fates);
          }
        });
      }
    }
  }
};

Simulation::Simulation(std::unique_ptr<World> world) : w_(std::move(world)) {}
Simulation::~Simulation() = default;

Result<std::unique_ptr<Simulation>> Simulation::Build(const WorkloadConfig& config, uint64_t seed,
                                                      const SimOptions& options) {
  auto w = std::make_unique<World>(config, seed, options);
  FVD_RETURN_IF_ERROR(w->BuildBases());
  FVD_RETURN_IF_ERROR(w->BuildVms());
  return std::unique_ptr<Simulation>(new Simulation(std::move(w)));
}

const Recorder& Simulation::EnableRecording() {
  World& w = *w_;
  w.recorder = std::make_unique<Recorder>([&w] {
    uint64_t bytes = 0;
    for (const auto& [name, disk] : w.base_disks) bytes += disk->stats().bytes_read;
    return bytes;
  });
  for (auto& vm : w.vms) vm->SetRecorder(w.recorder.get());
  return *w.recorder;
}

SimResult Simulation::Run(const std::function<void(double)>& progress) {
  World& w = *w_;
  const auto wall_start = std::chrono::steady_clock::now();
  const uint64_t start = NowNs(w.loop);
  w.ScheduleCrashes();
  for (auto& vm : w.vms) vm->Start();
  auto all_done = [&] {
    return std::all_of(w.vms.begin(), w.vms.end(), [](const auto& v) { return v->finished(); });
  };
  uint64_t steps = 0;
  while (!all_done() && NowNs(w.loop) - start < w.config.max_time_ns) {
    if (!w.loop.RunOne()) break;
    if (++steps % 65536 == 0 && progress) {
      progress(static_cast<double>(NowNs(w.loop) - start) /
               static_cast<double>(w.config.max_time_ns));
    }
  }
  const bool timed_out = !all_done();
  if (timed_out) {
    // Out of time: end every VM's phases; they drain, check and close as usual.
    for (auto& vm : w.vms) vm->Stop();
    while (!all_done() && w.loop.RunOne()) {
    }
  }
  SimResult r;
  r.seed = w.seed;
  r.bases = w.config.bases;
  r.timed_out = timed_out;
  r.sim_time_ns = NowNs(w.loop) - start;
  r.wall_time_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::steady_clock::now() - wall_start)
                                             .count());
  r.events = w.trace.events();
  r.digest = w.trace.digest();
  r.violations = w.violations.messages;
  r.signatures = w.violations.signatures;
  r.crash_schedule_ns = w.crash_schedule;
  for (const auto& vm : w.vms) {
    VmReport v{vm->name(), vm->stats(), vm->image_stats() ? *vm->image_stats() : ImageStats{}};
    r.crashes += v.stats.crashes;
    r.vms.push_back(std::move(v));
  }
  for (size_t i = 0; i < w.disks.size(); ++i)
    r.disks.push_back(
        {w.disk_names[i], w.disks[i]->stats(), w.disks[i]->model().bandwidth_bytes_per_s});
  if (progress) progress(1.0);
  return r;
}

}  // namespace fvd::sim
