#include "sim/swarm/world.h"

#include <algorithm>
#include <bit>

#include "core/format/layout.h"
#include "core/util/prng.h"
#include "core/util/units.h"
#include "sim/config/yaml_loader.h"
#include "sim/config/yaml_writer.h"

namespace fvd::sim::swarm {
namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kMillion = 1'000'000;
// The swarm's root stream: an index no component of a run derives (simulation.cc uses small
// ones), so a world never shares a stream with the run it makes.
constexpr uint64_t kSwarmStream = 0x5357'4152'4D00'0001ull;  // "SWARM"

// FNV-1a: a stable hash of a knob's name, the same on every compiler, for its stream's index.
constexpr uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// Uniform over the octaves between lo and hi, then uniform inside one: every factor of two of
// the range alike. 0 (when lo is 0) counts as one more octave. Integers only.
uint64_t LogBetween(Prng& p, uint64_t lo, uint64_t hi) {
  const uint64_t low = std::max<uint64_t>(lo, 1);
  if (hi < low) return 0;
  const int first = std::bit_width(low) - 1, last = std::bit_width(hi) - 1;
  const uint64_t octaves = static_cast<uint64_t>(last - first + 1);
  const uint64_t o = p.Below(octaves + (lo == 0 ? 1 : 0));
  if (o == octaves) return 0;
  const int bit = first + static_cast<int>(o);
  const uint64_t a = std::max(low, uint64_t{1} << bit);
  const uint64_t b = bit >= 63 ? hi : std::min(hi, (uint64_t{2} << bit) - 1);
  return p.Between(a, b);
}

// `v` to three significant decimal digits (1247787 -> 1250000), so that a drawn world reads
// like one written by hand ("1250us").
uint64_t ThreeDigits(uint64_t v) {
  uint64_t scale = 1;
  while (v / scale >= 1000) scale *= 10;
  return (v + scale / 2) / scale * scale;
}

class Draws {
 public:
  Draws(const SwarmSpec& spec, uint64_t seed)
      : spec_(spec), root_(DeriveSeed(seed, kSwarmStream)) {}

  bool On(std::string_view feature) const {
    const FeatureDef* f = FindFeature(feature);
    Prng p = Stream("feature:", feature, 0);
    return p.Below(kMillion) < spec_.ChanceOf(*f);
  }

  // One value of `knob` for the thing numbered `entity`.
  uint64_t Value(std::string_view knob, uint64_t entity = 0) const {
    const KnobDef* k = FindKnob(knob);
    const Domain& d = spec_.DomainOf(*k);
    Prng p = Stream("knob:", knob, entity);
    if (!d.is_range) return d.choices[p.Below(d.choices.size())];
    uint64_t v = k->log_scale ? LogBetween(p, d.lo, d.hi) : p.Between(d.lo, d.hi);
    if (k->unit == Unit::kDuration || k->unit == Unit::kBandwidth) v = ThreeDigits(v);
    v = std::min(std::max(v, d.lo), d.hi);
    v -= v % k->multiple_of;
    if (v < d.lo) v += k->multiple_of;  // the range's floor was not a multiple
    return v;
  }

  // Uniform in [0, n): which base, disk or VM a thing uses.
  uint64_t Index(std::string_view what, uint64_t entity, uint64_t n) const {
    Prng p = Stream("pick:", what, entity);
    return p.Below(std::max<uint64_t>(n, 1));
  }

 private:
  Prng Stream(std::string_view kind, std::string_view name, uint64_t entity) const {
    return Prng(DeriveSeed(DeriveSeed(root_, Fnv1a(kind) ^ Fnv1a(name)), entity));
  }

  const SwarmSpec& spec_;
  uint64_t root_;
};

// Which features a seed turned on.
struct On {
  bool multi_vm, base, compact, copy_on_read, prefetch, profile, data_file, journal, crashes,
      fate_mix, io_errors, latency_spikes, unaligned_io, zipf, flushes;
};

On DrawFeatures(const Draws& d) {
  return {d.On("multi_vm"),   d.On("base"),      d.On("compact"),  d.On("copy_on_read"),
          d.On("prefetch"),   d.On("profile"),   d.On("data_file"), d.On("journal"),
          d.On("crashes"),    d.On("fate_mix"),  d.On("io_errors"), d.On("latency_spikes"),
          d.On("unaligned_io"), d.On("zipf"),    d.On("flushes")};
}

constexpr uint64_t RoundDown(uint64_t v, uint64_t m) { return v - v % m; }

uint64_t Percent(uint64_t bytes, uint64_t percent) {
  return bytes / 100 * percent + bytes % 100 * percent / 100;
}

DiskConfig DrawHostDisk(const Draws& d, uint64_t h) {
  DiskConfig m;
  m.name = "host-" + std::to_string(h);
  m.read_latency_ns = d.Value("disk.read_latency", h);
  m.write_latency_ns = d.Value("disk.write_latency", h);
  m.flush_latency_ns = d.Value("disk.flush_latency", h);
  m.bandwidth_bytes_per_s = std::max<uint64_t>(d.Value("disk.bandwidth", h), 1);
  m.jitter_ns = d.Value("disk.jitter", h);
  m.queue_depth = static_cast<uint32_t>(d.Value("disk.queue_depth", h));
  m.volatile_cache = d.Value("disk.volatile_cache", h) != 0;
  m.seek_ns_per_gib = d.Value("disk.seek_per_gib", h);
  m.max_seek_ns = m.seek_ns_per_gib != 0 ? 10'000'000 : 0;
  return m;
}

DiskConfig DrawServer(const Draws& d) {
  DiskConfig m;
  m.name = "server";
  m.read_latency_ns = m.write_latency_ns = m.flush_latency_ns = d.Value("server.latency");
  m.bandwidth_bytes_per_s = std::max<uint64_t>(d.Value("server.bandwidth"), 1);
  m.jitter_ns = m.read_latency_ns / 10;
  m.queue_depth = static_cast<uint32_t>(d.Value("server.queue_depth"));
  m.volatile_cache = false;  // bases are read-only; the server's storage is stable
  m.shared_bandwidth = true;
  return m;
}

BaseImageConfig DrawBase(const Draws& d, uint64_t b) {
  BaseImageConfig base;
  base.name = "base-" + std::to_string(b);
  base.disk = "server";
  base.size_bytes = std::max(d.Value("base.size", b), kSector);
  const uint64_t percent = d.Value("base.nonzero", b);
  base.nonzero_bytes = percent >= 100 ? 0 : RoundDown(Percent(base.size_bytes, percent), kSector);
  return base;
}

void DrawPrefetch(const Draws& d, uint64_t g, ImageConfig& im) {
  im.prefetch_start_delay_s = static_cast<int32_t>(d.Value("image.prefetch_start_delay", g) /
                                                   1'000'000'000);
  im.prefetch_slots = static_cast<uint32_t>(d.Value("image.prefetch_slots", g));
  im.prefetch_slot_bytes = d.Value("image.prefetch_slot_size", g);
  im.prefetch_throttle_ns = d.Value("image.prefetch_throttle", g);
  im.prefetch_min_read_bytes_per_s = RoundDown(d.Value("image.prefetch_min_read", g), 1024);
  im.prefetch_max_read_bytes_per_s = RoundDown(d.Value("image.prefetch_max_read", g), 1024);
  im.prefetch_queue_target_ns = d.Value("image.prefetch_queue_target", g);
  im.prefetch_control = d.Value("image.prefetch_control", g) == 0 ? "fvd" : "window";
  im.prefetch_read_bytes = d.Value("image.prefetch_read_size", g);
  im.prefetch_window_max = static_cast<uint32_t>(d.Value("image.prefetch_window_max", g));
}

// The image of VM group `g`, over `base` (null: none).
ImageConfig DrawImage(const Draws& d, const On& on, uint64_t g, const BaseImageConfig* base) {
  ImageConfig im;
  if (base != nullptr) {
    const uint64_t beyond = d.Value("image.beyond_base", g);
    if (beyond != 0) im.size_bytes = RoundUp(base->size_bytes + Percent(base->size_bytes, beyond),
                                             kSector);
    im.block_size_bytes = static_cast<uint32_t>(d.Value("image.block_size", g));
    im.copy_on_read = on.copy_on_read;
    if (on.prefetch) DrawPrefetch(d, g, im);
  } else {
    im.size_bytes = std::max(d.Value("image.size", g), kSector);
  }
  im.compact = on.compact;
  if (im.compact) {
    // With a base, a chunk holds whole blocks (the automatic block size is the base's).
    const uint64_t block = base == nullptr           ? kSector
                           : im.block_size_bytes != 0 ? im.block_size_bytes
                                                      : format::AutoBlockSize(base->size_bytes);
    im.chunk_size_bytes = RoundUp(std::max(d.Value("image.chunk_size", g), block), block);
  }
  // Without a journal a crashed image is refused read-write (FORMAT.md): no journal only in
  // worlds without crashes.
  im.journal_size_bytes = on.journal || on.crashes ? d.Value("image.journal_size", g) : 0;
  im.journal_mode = d.Value("image.journal_mode", g) == 0 ? "buffered" : "unbuffered";
  im.journal_buffer_bytes = d.Value("image.journal_buffer", g);
  im.journal_flush_period_ns = std::max<uint64_t>(d.Value("image.journal_flush_period", g), 1);
  im.data_file = on.data_file;
  return im;
}

PhaseConfig DrawPhase(const Draws& d, const On& on, uint64_t e, uint64_t disk_bytes) {
  static const char* const kKinds[] = {"random", "database", "sequential", "boot", "idle"};
  PhaseConfig p;
  p.kind = kKinds[d.Value("phase.kind", e)];
  p.duration_ns = std::max<uint64_t>(d.Value("phase.duration", e), 1);
  if (p.kind == "idle") return p;
  p.ops = std::max<uint64_t>(d.Value("phase.ops", e), 1);
  p.queue_depth = static_cast<uint32_t>(d.Value("phase.queue_depth", e));
  p.read_percent = static_cast<uint32_t>(d.Value("phase.read_percent", e));
  p.sizes.clear();
  const uint64_t kinds_of_size = 1 + d.Index("phase.sizes", e, 3);
  for (uint64_t i = 0; i < kinds_of_size; ++i) {
    const uint64_t size = std::min(d.Value("phase.sizes", e * 8 + i), RoundDown(disk_bytes, kSector));
    p.sizes[std::max(size, kSector)] = static_cast<uint32_t>(1 + d.Index("phase.weight", e * 8 + i, 9));
  }
  if (on.unaligned_io) p.align_bytes = d.Value("phase.align", e);
  p.sync_write_percent = static_cast<uint32_t>(d.Value("phase.sync_writes", e));
  // The region: a part of the disk, somewhere in it (a hot spot when small).
  const uint64_t range = RoundDown(std::min(d.Value("phase.range", e), disk_bytes), 4096);
  if (range >= p.sizes.rbegin()->first && range < disk_bytes) {
    p.range_bytes = range;
    p.range_offset_bytes = d.Index("phase.range_offset", e, (disk_bytes - range) / 4096 + 1) * 4096;
  }
  if (on.zipf) {
    p.hot_set = "zipf";
    p.zipf_theta = static_cast<double>(d.Value("phase.zipf_theta_milli", e)) / 1000.0;
  }
  if (on.flushes && p.kind != "sequential" && p.kind != "boot") {
    p.flush_every_writes = static_cast<uint32_t>(d.Value("phase.flush_every_writes", e));
  }
  if (p.kind == "boot") {
    p.think_time_ns = d.Value("phase.think_time", e);
    p.working_set_bytes =
        std::max(RoundDown(Percent(disk_bytes, d.Value("phase.working_set", e)), kSector), kSector);
  }
  return p;
}

CrashConfig DrawCrash(const Draws& d, const On& on, uint64_t c, const WorkloadConfig& w) {
  static const char* const kOps[] = {"read", "write", "flush", "any"};
  CrashConfig crash;
  const uint64_t who = d.Index("crash.vm", c, w.vms.size() + 1);
  if (who > 0) crash.vm = w.vms[who - 1].name;  // 0: every VM
  switch (d.Value("crash.trigger", c)) {
    case 0: {
      const uint64_t n = d.Value("crash.at_count", c);
      for (uint64_t i = 0; i < n; ++i)
        crash.at_ns.push_back(d.Index("crash.at", c * 64 + i, w.max_time_ns + 1));
      std::sort(crash.at_ns.begin(), crash.at_ns.end());
      break;
    }
    case 1:
      crash.after_ops = std::max<uint64_t>(d.Value("crash.after_ops", c), 1);
      crash.op = kOps[d.Value("crash.op", c)];
      crash.on = d.Value("crash.on", c) == 0 ? "submit" : "complete";
      break;
    default:
      crash.random_per_hour = static_cast<uint32_t>(std::max<uint64_t>(d.Value("crash.per_hour", c), 1));
      break;
  }
  crash.max_crashes = static_cast<uint32_t>(d.Value("crash.max_crashes", c));
  if (on.fate_mix) {
    crash.fates.survive = static_cast<uint32_t>(d.Value("crash.fate_weight", c * 4 + 0));
    crash.fates.lose = static_cast<uint32_t>(d.Value("crash.fate_weight", c * 4 + 1));
    crash.fates.tear = static_cast<uint32_t>(d.Value("crash.fate_weight", c * 4 + 2));
    if (crash.fates == CrashFates{0, 0, 0}) crash.fates.lose = 1;
  }
  return crash;
}

// The disk a fault hits: one of the image disks, or the base server.
std::string FaultTarget(const Draws& d, std::string_view knob, uint64_t e, const WorkloadConfig& w,
                        uint64_t hosts) {
  const bool server = d.Value(knob, e) == 1 && !w.bases.empty();
  return server ? "server" : "host-" + std::to_string(d.Index(knob, e, hosts));
}

void DrawFaults(const Draws& d, const On& on, uint64_t hosts, WorkloadConfig& w) {
  static const char* const kOps[] = {"read", "write", "flush", "any"};
  if (on.crashes) {
    const uint64_t n = d.Value("crash.entries");
    for (uint64_t c = 0; c < n; ++c) w.crashes.push_back(DrawCrash(d, on, c, w));
  }
  if (on.io_errors) {
    const uint64_t n = d.Value("error.entries");
    for (uint64_t e = 0; e < n; ++e) {
      ErrorConfig err;
      err.disk = FaultTarget(d, "error.target", e, w, hosts);
      err.op = kOps[d.Value("error.op", e)];
      err.probability_ppm = static_cast<uint32_t>(d.Value("error.probability", e));
      err.after_ops = d.Value("error.after_ops", e);
      err.count = d.Value("error.count", e);
      w.errors.push_back(err);
    }
  }
  if (on.latency_spikes) {
    LatencySpikeConfig s;
    s.disk = FaultTarget(d, "spike.target", 0, w, hosts);
    s.probability_ppm = static_cast<uint32_t>(d.Value("spike.probability"));
    s.extra_ns = d.Value("spike.extra");
    w.latency_spikes.push_back(s);
  }
}

VmConfig DrawVmGroup(const Draws& d, const On& on, uint64_t g, uint32_t count, const WorkloadConfig& w,
            uint64_t hosts) {
  VmConfig vm;
  vm.name = "vm" + std::to_string(g);
  vm.count = count;
  const BaseImageConfig* base = nullptr;
  if (!w.bases.empty()) {
    base = &w.bases[d.Index("vm.base", g, w.bases.size())];
    vm.base = base->name;
  }
  vm.disk = "host-" + std::to_string(d.Index("vm.disk", g, hosts));
  vm.start_ns = d.Value("world.vm_start", g);
  vm.image = DrawImage(d, on, g, base);
  const uint64_t disk_bytes = vm.image.size_bytes != 0 ? vm.image.size_bytes : base->size_bytes;
  const uint64_t phases = d.Value("phase.count", g);
  for (uint64_t p = 0; p < phases; ++p) vm.phases.push_back(DrawPhase(d, on, g * 16 + p, disk_bytes));
  return vm;
}

// When the last VM's last phase would end, at the latest (a phase may end sooner on its ops).
uint64_t PlannedEnd(const WorkloadConfig& w) {
  uint64_t end = 1;
  for (const VmConfig& v : w.vms) {
    uint64_t t = v.start_ns;
    for (const PhaseConfig& p : v.phases) t += p.duration_ns;
    end = std::max(end, t);
  }
  return end;
}

// Later groups on the first group's base follow the prefetch profile it records.
void DrawProfiles(const Draws& d, WorkloadConfig& w) {
  VmConfig& first = w.vms.front();
  if (first.base.empty()) return;
  bool followed = false;
  for (size_t g = 1; g < w.vms.size(); ++g) {
    if (w.vms[g].base != first.base) continue;
    w.vms[g].image.prefetch_profile_from = first.name;
    w.vms[g].image.profile_prefetch_delay_s =
        static_cast<int32_t>(d.Value("image.profile_prefetch_delay", g) / 1'000'000'000);
    followed = true;
  }
  first.image.record_prefetch_profile = followed;
}

}  // namespace

Result<WorkloadConfig> DrawWorld(const SwarmSpec& spec, uint64_t seed, const std::string& name) {
  const Draws d(spec, seed);
  const On on = DrawFeatures(d);
  WorkloadConfig w;
  w.name = name;
  w.seed = seed;
  w.max_time_ns = std::max<uint64_t>(d.Value("world.max_time"), 1);
  const uint64_t hosts = d.Value("world.host_disks");
  for (uint64_t h = 0; h < hosts; ++h) w.disks.push_back(DrawHostDisk(d, h));
  if (on.base) {
    w.disks.push_back(DrawServer(d));
    const uint64_t bases = d.Value("world.bases");
    for (uint64_t b = 0; b < bases; ++b) w.bases.push_back(DrawBase(d, b));
  }
  const uint64_t groups = on.multi_vm ? d.Value("world.vm_groups") : 1;
  for (uint64_t g = 0; g < groups; ++g) {
    const auto count = static_cast<uint32_t>(on.multi_vm ? d.Value("world.vms_per_group", g) : 1);
    w.vms.push_back(DrawVmGroup(d, on, g, count, w, hosts));
  }
  // The world ends when its last phase would: crash times and random crashes (drawn over
  // max_time) then fall while the VMs run.
  w.max_time_ns = std::min(w.max_time_ns, PlannedEnd(w));
  if (on.profile && on.base) DrawProfiles(d, w);
  DrawFaults(d, on, hosts, w);
  // Through the writer and the loader: the world is what --print-world writes, and valid.
  const std::string text = WriteWorkloadYaml(w);
  auto loaded = LoadWorkloadText(text, name + " (seed " + std::to_string(seed) + ")");
  if (!loaded.ok()) {
    return Status::Internal("the swarm drew a world the loader refuses: " +
                            loaded.status().message() + "\n" + text);
  }
  return *loaded;
}

std::vector<std::string> WorldFeatures(const WorkloadConfig& w) {
  const auto any_vm = [&](auto pred) { return std::any_of(w.vms.begin(), w.vms.end(), pred); };
  const auto any_phase = [&](auto pred) {
    return any_vm([&](const VmConfig& v) { return std::any_of(v.phases.begin(), v.phases.end(), pred); });
  };
  uint64_t vms = 0;
  for (const VmConfig& v : w.vms) vms += v.count;
  const std::vector<std::pair<const char*, bool>> all = {
      {"multi_vm", vms > 1},
      {"base", any_vm([](const VmConfig& v) { return !v.base.empty(); })},
      {"compact", any_vm([](const VmConfig& v) { return v.image.compact; })},
      {"copy_on_read",
       any_vm([](const VmConfig& v) { return v.image.copy_on_read && !v.base.empty(); })},
      {"prefetch", any_vm([](const VmConfig& v) {
         return !v.base.empty() && v.image.prefetch_start_delay_s > 0;
       })},
      {"profile", any_vm([](const VmConfig& v) { return !v.image.prefetch_profile_from.empty(); })},
      {"data_file", any_vm([](const VmConfig& v) { return v.image.data_file; })},
      {"journal", any_vm([](const VmConfig& v) { return v.image.journal_size_bytes > 0; })},
      {"unbuffered", any_vm([](const VmConfig& v) { return v.image.journal_mode == "unbuffered"; })},
      {"crashes", !w.crashes.empty()},
      {"fate_mix", std::any_of(w.crashes.begin(), w.crashes.end(),
                               [](const CrashConfig& c) { return c.fates != CrashFates{}; })},
      {"io_errors", !w.errors.empty()},
      {"latency_spikes", !w.latency_spikes.empty()},
      {"unaligned_io", any_phase([](const PhaseConfig& p) { return p.align_bytes != 0; })},
      {"zipf", any_phase([](const PhaseConfig& p) { return p.hot_set == "zipf"; })},
      {"flushes", any_phase([](const PhaseConfig& p) { return p.flush_every_writes > 0; })},
      {"volatile_cache", std::any_of(w.disks.begin(), w.disks.end(),
                                     [](const DiskConfig& d) { return d.volatile_cache; })},
  };
  std::vector<std::string> out;
  for (const auto& [name, present] : all)
    if (present) out.push_back(name);
  return out;
}

}  // namespace fvd::sim::swarm
