#include "sim/swarm/knobs.h"

#include <algorithm>

namespace fvd::sim::swarm {
namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB;
constexpr uint64_t us = 1000, ms = 1000 * us, s = 1000 * ms;
constexpr uint64_t kSector = 512;
constexpr uint32_t kHalf = 500'000;  // ppm

Domain R(uint64_t lo, uint64_t hi) { return Domain::Range(lo, hi); }
Domain C(std::vector<uint64_t> v) { return Domain::Choices(std::move(v)); }

const std::vector<std::string_view> kBoolWords = {"false", "true"};
const std::vector<std::string_view> kOps = {"read", "write", "flush", "any"};
const std::vector<std::string_view> kTargets = {"image", "base"};

KnobDef Count(std::string_view name, Domain d, std::string_view help, uint64_t min = 0,
              uint64_t max = UINT32_MAX, bool log = false) {
  return {name, Unit::kCount, std::move(d), help, min, 1, max, {}, log};
}
KnobDef Size(std::string_view name, Domain d, std::string_view help, uint64_t min = 0,
             uint64_t max = 1ull << 40) {
  return {name, Unit::kSize, std::move(d), help, min, kSector, max, {}, true};
}
KnobDef Time(std::string_view name, Domain d, std::string_view help, uint64_t multiple = 1,
             uint64_t max = 3600 * s) {
  return {name, Unit::kDuration, std::move(d), help, 0, multiple, max, {}, true};
}
KnobDef Rate(std::string_view name, Domain d, std::string_view help, uint64_t min = 0) {
  return {name, Unit::kBandwidth, std::move(d), help, min, 1, 1ull << 40, {}, true};
}
KnobDef Percent(std::string_view name, Domain d, std::string_view help, uint64_t min = 0) {
  return {name, Unit::kPercent, std::move(d), help, min, 1, 100, {}, false};
}
KnobDef Chance(std::string_view name, Domain d, std::string_view help) {
  return {name, Unit::kProbability, std::move(d), help, 0, 1, 1'000'000, {}, false};
}
KnobDef Bool(std::string_view name, Domain d, std::string_view help) {
  return {name, Unit::kBool, std::move(d), help, 0, 1, 1, kBoolWords, false};
}
KnobDef Word(std::string_view name, std::vector<std::string_view> words, Domain d,
             std::string_view help) {
  const uint64_t max = words.size() - 1;
  return {name, Unit::kWord, std::move(d), help, 0, 1, max, std::move(words), false};
}

const std::vector<KnobDef>& Table() {
  static const std::vector<KnobDef> kKnobs = {
      // The world's shape.
      Count("world.vm_groups", R(1, 3), "VM groups (multi_vm: else 1)", 1, 16),
      Count("world.vms_per_group", R(1, 3), "identical VMs in a group (multi_vm: else 1)", 1, 16),
      Count("world.bases", R(1, 2), "base images (base: else none)", 1, 8),
      Count("world.host_disks", R(1, 2), "disk models the images live on", 1, 8),
      Time("world.max_time", C({20 * s}),
           "virtual time a world may run at most (it ends when its last phase would)", 1, 3600 * s),
      Time("world.vm_start", C({0, 10 * ms, 100 * ms, 500 * ms}), "when each VM group starts"),
      // The disks that hold the images.
      Time("disk.read_latency", R(10 * us, 10 * ms), "fixed part of a read"),
      Time("disk.write_latency", R(5 * us, 10 * ms), "fixed part of a write"),
      Time("disk.flush_latency", R(10 * us, 20 * ms), "a flush"),
      Rate("disk.bandwidth", R(20'000'000, 4'000'000'000), "transfer rate", 1),
      Time("disk.jitter", C({0, 1 * us, 10 * us, 100 * us, 1 * ms}), "random extra latency"),
      Count("disk.queue_depth", C({1, 2, 4, 8, 32, 128}), "operations in service", 1, 4096),
      Bool("disk.volatile_cache", C({0, 1}), "writes durable only after a flush"),
      Time("disk.seek_per_gib", C({0, 100 * us, 1 * ms}), "HDD-like seeks (capped at 10ms)"),
      // The servers of the base images.
      Time("server.latency", R(50 * us, 5 * ms), "a request's round trip"),
      Rate("server.bandwidth", R(10'000'000, 2'000'000'000), "the link", 1),
      Count("server.queue_depth", C({4, 16, 64}), "requests in service", 1, 4096),
      // Base images.
      Size("base.size", R(4 * MiB, 256 * MiB), "a base image's size", kSector),
      Percent("base.nonzero", R(10, 100), "share of the base holding data (the rest zeros)", 1),
      // Images.
      Size("image.size", R(4 * MiB, 256 * MiB), "size of an image without a base", kSector),
      Percent("image.beyond_base", C({0, 0, 25, 100}), "an overlay larger than its base by this"),
      Size("image.block_size", C({0, 512, 4 * KiB, 64 * KiB, 1 * MiB}),
           "copy-on-write unit (0: automatic)"),
      Size("image.chunk_size", C({64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB}),
           "compact: allocation unit (raised to a multiple of the block size)", kSector),
      Size("image.journal_size", C({4 * KiB, 16 * KiB, 64 * KiB, 1 * MiB, 16 * MiB}),
           "journal size (journal)", kSector),
      Word("image.journal_mode", {"buffered", "unbuffered"}, C({0, 1}), "journal mode"),
      Size("image.journal_buffer", C({512, 4 * KiB, 64 * KiB, 1 * MiB}), "buffered mode's buffer"),
      Time("image.journal_flush_period", R(1 * ms, 5 * s), "buffered mode's longest wait", 1,
           3600 * s),
      {"image.prefetch_start_delay", Unit::kDuration, C({1 * s, 3 * s}),
       "prefetch: start (whole seconds)", 1 * s, 1 * s, 3600 * s, {}, true},
      Count("image.prefetch_slots", C({1, 2, 4, 16}), "prefetch: buffers in flight", 1, 1024),
      Size("image.prefetch_slot_size", C({64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB}),
           "prefetch: bytes per base read", kSector, 1ull << 30),
      Time("image.prefetch_throttle", C({0, 100 * ms, 2 * s}), "prefetch: longest pause", ms),
      Rate("image.prefetch_min_read", C({0, 5 * MiB, 100 * MiB}), "prefetch: coin threshold"),
      Rate("image.prefetch_max_read", C({0, 20'000'000, 200'000'000}), "prefetch: cap"),
      Time("image.prefetch_queue_target", C({0, 1 * ms, 20 * ms}), "prefetch: delay pacing"),
      Word("image.prefetch_control", {"fvd", "window"}, C({0, 1}), "prefetch: pacing"),
      Size("image.prefetch_read_size", C({4 * KiB, 16 * KiB, 64 * KiB}),
           "prefetch, window: bytes per base read", kSector, 1ull << 30),
      Count("image.prefetch_window_max", C({1, 4, 16}), "prefetch, window: most reads in flight",
            1, 1024),
      Time("image.profile_prefetch_delay", C({0, 1 * s}), "profile: start (whole seconds)", s),
      // Each VM group's workload.
      Count("phase.count", R(1, 3), "phases per VM", 1, 16),
      Word("phase.kind", {"random", "database", "sequential", "boot", "idle"}, C({0, 1, 2, 3, 4}),
           "phase kinds"),
      Time("phase.duration", R(50 * ms, 3 * s), "a phase's length", 1),
      Count("phase.ops", R(50, 20'000), "a phase's operations (whichever ends it first)", 1,
            UINT32_MAX, true),
      Count("phase.queue_depth", C({1, 2, 4, 8, 16, 32}), "guest operations in flight", 1, 1024),
      Percent("phase.read_percent", R(0, 100), "share of reads"),
      Size("phase.sizes", C({512, 1 * KiB, 4 * KiB, 8 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB}),
           "request sizes: each phase mixes one to three of them", kSector, 64 * MiB),
      Size("phase.align", C({512, 1 * KiB, 2 * KiB}), "unaligned_io: request offset alignment",
           kSector),
      Size("phase.range", R(4 * KiB, 1ull << 40),
           "how much of the disk a phase works in (a hot spot when small; clipped to the disk)",
           4 * KiB),
      Count("phase.zipf_theta_milli", R(300, 1400), "zipf: skew, in thousandths", 1, 100'000),
      Percent("phase.sync_writes", C({0, 0, 25, 100}),
              "share of writes tried synchronously first (Image::TryWriteNow)"),
      Count("phase.flush_every_writes", C({1, 4, 16, 64, 256}), "flushes: writes between flushes",
            1),
      Time("phase.think_time", C({0, 50 * us, 1 * ms}), "boot: pause between reads"),
      Percent("phase.working_set", R(5, 100), "boot: share of the base a boot reads", 1),
      // Faults.
      Count("crash.entries", R(1, 2), "crash entries (crashes)", 1, 16),
      Word("crash.trigger", {"at", "after_ops", "random"}, C({0, 1, 2}), "what sets a crash off"),
      Count("crash.at_count", R(1, 8), "at: crash times (while the VMs run)", 1, 64),
      Count("crash.after_ops", R(10, 5000), "after_ops: device operations before the crash", 1,
            UINT32_MAX, true),
      Word("crash.op", kOps, C({0, 1, 2, 3}), "after_ops: the operation counted"),
      Word("crash.on", {"submit", "complete"}, C({0, 1}),
           "after_ops: counted at submission or at completion"),
      Count("crash.per_hour", R(3600, 360'000), "random: crashes per virtual hour", 1,
            10'000'000, true),
      Count("crash.max_crashes", R(1, 100), "crashes per entry at most", 1, 100'000, true),
      Count("crash.fate_weight", C({0, 1, 2, 4}), "fate_mix: each fate's weight", 0, 1000),
      Count("error.entries", R(1, 2), "I/O error entries (io_errors)", 1, 16),
      Word("error.target", kTargets, C({0, 1}), "the disk an error hits"),
      Word("error.op", kOps, C({0, 1, 2, 3}), "the operation that fails"),
      Chance("error.probability", C({100, 1'000, 10'000, 100'000}), "per matching operation"),
      Count("error.after_ops", R(0, 2000), "matching operations before errors start"),
      Count("error.count", C({1, 5, 0}), "errors at most (0: unlimited)"),
      Word("spike.target", kTargets, C({0, 1}), "the disk a latency spike hits"),
      Chance("spike.probability", C({1'000, 10'000, 100'000}), "per operation"),
      Time("spike.extra", R(100 * us, 200 * ms), "added latency"),
  };
  return kKnobs;
}

const std::vector<FeatureDef>& FeatureTable() {
  static const std::vector<FeatureDef> kFeatures = {
      {"multi_vm", kHalf, "more than one VM (world.vm_groups, world.vms_per_group)"},
      {"base", kHalf, "images are overlays of base images on network servers"},
      {"compact", kHalf, "compact images (chunks allocated on first write)"},
      {"copy_on_read", kHalf, "copy-on-read"},
      {"prefetch", kHalf, "whole-image prefetch (image.prefetch_*)"},
      {"profile", kHalf, "later VM groups follow the first group's prefetch profile"},
      {"data_file", kHalf, "data in a separate data file"},
      {"journal", kHalf, "a metadata journal (off: none, only in worlds without crashes)"},
      {"crashes", kHalf, "host crashes (crash.*)"},
      {"fate_mix", kHalf, "unflushed writes survive, are lost or torn in drawn proportions"},
      {"io_errors", kHalf, "I/O errors (error.*)"},
      {"latency_spikes", kHalf, "latency spikes (spike.*)"},
      {"unaligned_io", kHalf, "guest requests at offsets of phase.align, across blocks"},
      {"zipf", kHalf, "a zipf hot set (else uniform)"},
      {"flushes", kHalf, "guest flushes (phase.flush_every_writes)"},
  };
  return kFeatures;
}

}  // namespace

std::span<const KnobDef> Knobs() { return Table(); }
std::span<const FeatureDef> Features() { return FeatureTable(); }

const KnobDef* FindKnob(std::string_view name) {
  const auto& t = Table();
  auto it = std::find_if(t.begin(), t.end(), [&](const KnobDef& k) { return k.name == name; });
  return it == t.end() ? nullptr : &*it;
}

const FeatureDef* FindFeature(std::string_view name) {
  const auto& t = FeatureTable();
  auto it = std::find_if(t.begin(), t.end(), [&](const FeatureDef& f) { return f.name == name; });
  return it == t.end() ? nullptr : &*it;
}

}  // namespace fvd::sim::swarm
