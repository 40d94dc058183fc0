#include "sim/config/yaml_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/config/workload_test_data.h"

namespace fvd::sim {
namespace {

constexpr char kFile[] = "w.yaml";

// The smallest valid workload; error tests append to it or spell out their own.
constexpr char kMinimal[] = R"(disks:
  - {name: d, preset: ssd}
vms:
  - name: vm
    disk: d
    phases:
      - {kind: random, ops: 10}
)";

WorkloadConfig Load(const std::string& yaml) {
  Result<WorkloadConfig> r = LoadWorkloadText(yaml, kFile);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : WorkloadConfig{};
}

// The message of a load that must fail.
std::string LoadError(const std::string& yaml) {
  Result<WorkloadConfig> r = LoadWorkloadText(yaml, kFile);
  EXPECT_FALSE(r.ok()) << yaml;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(LoadWorkload, EveryKeyReachesItsField) {
  const WorkloadConfig w = Load(kFullWorkload);
  EXPECT_EQ(w.name, "full");
  EXPECT_EQ(w.seed, 42u);
  EXPECT_EQ(w.max_time_ns, 90'000'000'000u);

  ASSERT_EQ(w.disks.size(), 2u);
  const DiskConfig& d = w.disks[0];
  EXPECT_EQ(d.name, "local");
  EXPECT_EQ(d.preset, "ssd");
  EXPECT_EQ(d.read_latency_ns, 70'000u);
  EXPECT_EQ(d.write_latency_ns, 15'000u);
  EXPECT_EQ(d.flush_latency_ns, 1'000'000u);
  EXPECT_EQ(d.bandwidth_bytes_per_s, 2'000'000'000u);
  EXPECT_EQ(d.jitter_ns, 3'000u);
  EXPECT_EQ(d.queue_depth, 64u);
  EXPECT_FALSE(d.volatile_cache);
  EXPECT_EQ(d.seek_ns_per_gib, 2'000'000u);
  EXPECT_EQ(d.max_seek_ns, 8'000'000u);
  EXPECT_TRUE(d.shared_bandwidth);
  EXPECT_EQ(d.size_bytes, 100ull << 30);
  EXPECT_EQ(w.disks[1].name, "net");
  EXPECT_EQ(w.disks[1].preset, "network");
  EXPECT_EQ(w.disks[1].bandwidth_bytes_per_s, 125'000'000u);

  ASSERT_EQ(w.bases.size(), 1u);
  EXPECT_EQ(w.bases[0].name, "debian");
  EXPECT_EQ(w.bases[0].disk, "net");
  EXPECT_EQ(w.bases[0].size_bytes, 2ull << 30);
  EXPECT_EQ(w.bases[0].nonzero_bytes, 3ull << 29);

  ASSERT_EQ(w.vms.size(), 1u);
  const VmConfig& vm = w.vms[0];
  EXPECT_EQ(vm.name, "web");
  EXPECT_EQ(vm.count, 3u);
  EXPECT_EQ(vm.base, "debian");
  EXPECT_EQ(vm.disk, "local");
  EXPECT_EQ(vm.start_ns, 250'000'000u);

  const ImageConfig& im = vm.image;
  EXPECT_EQ(im.size_bytes, 4ull << 30);
  EXPECT_TRUE(im.compact);
  EXPECT_EQ(im.block_size_bytes, 64u << 10);
  EXPECT_EQ(im.chunk_size_bytes, 2u << 20);
  EXPECT_EQ(im.journal_size_bytes, 8u << 20);
  EXPECT_TRUE(im.copy_on_read);
  EXPECT_TRUE(im.data_file);
  EXPECT_EQ(im.prefetch_start_delay_s, 2);
  EXPECT_EQ(im.journal_mode, "unbuffered");
  EXPECT_EQ(im.journal_buffer_bytes, 128u << 10);
  EXPECT_EQ(im.journal_flush_period_ns, 1'500'000'000u);

  ASSERT_EQ(vm.phases.size(), 2u);
  const PhaseConfig& p = vm.phases[0];
  EXPECT_EQ(p.kind, "random");
  EXPECT_EQ(p.duration_ns, 10'000'000'000u);
  EXPECT_EQ(p.ops, 5000u);
  EXPECT_EQ(p.queue_depth, 8u);
  EXPECT_EQ(p.read_percent, 60u);
  EXPECT_EQ(p.sizes, (std::map<uint64_t, uint32_t>{{4096, 80}, {65536, 20}}));
  EXPECT_EQ(p.range_offset_bytes, 1ull << 30);
  EXPECT_EQ(p.range_bytes, 512u << 20);
  EXPECT_EQ(p.hot_set, "zipf");
  EXPECT_EQ(p.zipf_theta, 0.8);
  EXPECT_EQ(p.flush_every_writes, 16u);
  EXPECT_EQ(p.think_time_ns, 100'000u);
  EXPECT_EQ(p.working_set_bytes, 256u << 20);
  EXPECT_EQ(p.path_seed, 11u);
  EXPECT_EQ(p.align_bytes, 512u);
  EXPECT_EQ(p.sync_write_percent, 25u);
  EXPECT_EQ(vm.phases[1].kind, "idle");
  EXPECT_EQ(vm.phases[1].duration_ns, 60'000'000'000u);

  ASSERT_EQ(w.latency_spikes.size(), 1u);
  EXPECT_EQ(w.latency_spikes[0].disk, "net");
  EXPECT_EQ(w.latency_spikes[0].probability_ppm, 1'000u);
  EXPECT_EQ(w.latency_spikes[0].extra_ns, 20'000'000u);

  ASSERT_EQ(w.errors.size(), 1u);
  const ErrorConfig& e = w.errors[0];
  EXPECT_EQ(e.disk, "local");
  EXPECT_EQ(e.op, "flush");
  EXPECT_EQ(e.offset_bytes, 1u << 20);
  EXPECT_EQ(e.length_bytes, 64u << 10);
  EXPECT_EQ(e.probability_ppm, 500'000u);
  EXPECT_EQ(e.after_ops, 100u);
  EXPECT_EQ(e.count, 3u);

  ASSERT_EQ(w.crashes.size(), 1u);
  const CrashConfig& c = w.crashes[0];
  EXPECT_EQ(c.vm, "web-1");
  EXPECT_EQ(c.at_ns, (std::vector<uint64_t>{1'000'000'000, 2'500'000'000}));
  EXPECT_EQ(c.after_ops, 1000u);
  EXPECT_EQ(c.op, "any");
  EXPECT_EQ(c.random_per_hour, 12u);
  EXPECT_EQ(c.max_crashes, 5u);
  EXPECT_EQ(c.fates, (CrashFates{.survive = 0, .lose = 3, .tear = 2}));
}

TEST(LoadWorkload, KeysBesideAPresetOverrideIt) {
  const WorkloadConfig w = Load(R"(disks:
  - {name: d, preset: hdd, queue_depth: 7, read_latency: 1ms}
vms:
  - name: vm
    disk: d
    phases:
      - {kind: random, ops: 10}
)");
  DiskConfig hdd;
  ASSERT_TRUE(ApplyPreset("hdd", hdd));
  const DiskConfig& d = w.disks.at(0);
  EXPECT_EQ(d.queue_depth, 7u);
  EXPECT_EQ(d.read_latency_ns, 1'000'000u);
  EXPECT_EQ(d.write_latency_ns, hdd.write_latency_ns);
  EXPECT_EQ(d.seek_ns_per_gib, hdd.seek_ns_per_gib);
  EXPECT_NE(d.seek_ns_per_gib, DiskConfig{}.seek_ns_per_gib);
}

TEST(LoadWorkload, OmittedKeysKeepTheDefaultsOfConfigH) {
  const WorkloadConfig w = Load(std::string(kMinimal) + R"(bases:
  - {name: b, disk: d}
latency_spikes:
  - disk: d
errors:
  - disk: d
crashes:
  - at: 1s
)");
  const WorkloadConfig def;
  EXPECT_EQ(w.name, def.name);
  EXPECT_EQ(w.seed, def.seed);
  EXPECT_EQ(w.max_time_ns, def.max_time_ns);

  DiskConfig dd;  // the disk names preset ssd: its figures stand where no key overrides them
  ASSERT_TRUE(ApplyPreset("ssd", dd));
  const DiskConfig& d = w.disks.at(0);
  EXPECT_EQ(d.read_latency_ns, dd.read_latency_ns);
  EXPECT_EQ(d.write_latency_ns, dd.write_latency_ns);
  EXPECT_EQ(d.flush_latency_ns, dd.flush_latency_ns);
  EXPECT_EQ(d.bandwidth_bytes_per_s, dd.bandwidth_bytes_per_s);
  EXPECT_EQ(d.jitter_ns, dd.jitter_ns);
  EXPECT_EQ(d.queue_depth, dd.queue_depth);
  EXPECT_EQ(d.volatile_cache, dd.volatile_cache);
  EXPECT_EQ(d.seek_ns_per_gib, dd.seek_ns_per_gib);
  EXPECT_EQ(d.max_seek_ns, dd.max_seek_ns);
  EXPECT_EQ(d.shared_bandwidth, dd.shared_bandwidth);
  EXPECT_EQ(d.size_bytes, dd.size_bytes);

  const BaseImageConfig db;
  EXPECT_EQ(w.bases.at(0).size_bytes, db.size_bytes);
  EXPECT_EQ(w.bases.at(0).nonzero_bytes, db.nonzero_bytes);

  const VmConfig dv;
  const VmConfig& vm = w.vms.at(0);
  EXPECT_EQ(vm.count, dv.count);
  EXPECT_EQ(vm.base, "");
  EXPECT_EQ(vm.start_ns, dv.start_ns);
  const ImageConfig& im = vm.image;
  EXPECT_EQ(im.size_bytes, dv.image.size_bytes);
  EXPECT_EQ(im.compact, dv.image.compact);
  EXPECT_EQ(im.block_size_bytes, dv.image.block_size_bytes);
  EXPECT_EQ(im.chunk_size_bytes, dv.image.chunk_size_bytes);
  EXPECT_EQ(im.journal_size_bytes, dv.image.journal_size_bytes);
  EXPECT_EQ(im.copy_on_read, dv.image.copy_on_read);
  EXPECT_EQ(im.prefetch_start_delay_s, dv.image.prefetch_start_delay_s);
  EXPECT_EQ(im.journal_mode, dv.image.journal_mode);
  EXPECT_EQ(im.journal_buffer_bytes, dv.image.journal_buffer_bytes);
  EXPECT_EQ(im.journal_flush_period_ns, dv.image.journal_flush_period_ns);

  const PhaseConfig dp;
  const PhaseConfig& p = vm.phases.at(0);
  EXPECT_EQ(p.duration_ns, dp.duration_ns);
  EXPECT_EQ(p.queue_depth, dp.queue_depth);
  EXPECT_EQ(p.read_percent, dp.read_percent);
  EXPECT_EQ(p.sizes, dp.sizes);
  EXPECT_EQ(p.range_offset_bytes, dp.range_offset_bytes);
  EXPECT_EQ(p.range_bytes, dp.range_bytes);
  EXPECT_EQ(p.hot_set, dp.hot_set);
  EXPECT_EQ(p.zipf_theta, dp.zipf_theta);
  EXPECT_EQ(p.flush_every_writes, dp.flush_every_writes);
  EXPECT_EQ(p.think_time_ns, dp.think_time_ns);
  EXPECT_EQ(p.working_set_bytes, dp.working_set_bytes);
  EXPECT_EQ(p.path_seed, dp.path_seed);

  const LatencySpikeConfig ds;
  EXPECT_EQ(w.latency_spikes.at(0).probability_ppm, ds.probability_ppm);
  EXPECT_EQ(w.latency_spikes.at(0).extra_ns, ds.extra_ns);
  const ErrorConfig de;
  const ErrorConfig& e = w.errors.at(0);
  EXPECT_EQ(e.op, de.op);
  EXPECT_EQ(e.offset_bytes, de.offset_bytes);
  EXPECT_EQ(e.length_bytes, de.length_bytes);
  EXPECT_EQ(e.probability_ppm, de.probability_ppm);
  EXPECT_EQ(e.after_ops, de.after_ops);
  EXPECT_EQ(e.count, de.count);
  const CrashConfig dc;
  const CrashConfig& c = w.crashes.at(0);
  EXPECT_EQ(c.vm, "");
  EXPECT_EQ(c.at_ns, std::vector<uint64_t>{1'000'000'000});
  EXPECT_EQ(c.after_ops, dc.after_ops);
  EXPECT_EQ(c.op, dc.op);
  EXPECT_EQ(c.random_per_hour, dc.random_per_hour);
  EXPECT_EQ(c.max_crashes, dc.max_crashes);
}

TEST(LoadWorkload, AlternativeSpellings) {
  const WorkloadConfig w = Load(R"(max_time: 1h
vms:
  - name: a
    disk: d
    image: {prefetch_start_delay: never, journal_flush_period: 250ms}
    phases:
      - {kind: sequential, ops: 200_000, sizes: 64KiB, read_percent: 0, zipf_theta: 1.2}
  - name: b
    disk: d
    image: {prefetch_start_delay: 1min, compact: yes}
    phases: [{kind: boot, duration: 2s}]
disks: [{name: d}]
crashes:
  - {vm: a, after_ops: 5}
  - {vm: b, random_per_hour: 1}
)");
  ASSERT_EQ(w.vms.size(), 2u);
  EXPECT_EQ(w.vms[0].image.prefetch_start_delay_s, -1);
  EXPECT_EQ(w.vms[0].phases[0].ops, 200'000u);
  EXPECT_EQ(w.vms[0].phases[0].sizes, (std::map<uint64_t, uint32_t>{{65536, 1}}));
  EXPECT_EQ(w.vms[0].phases[0].read_percent, 0u);
  EXPECT_EQ(w.vms[0].phases[0].zipf_theta, 1.2);
  EXPECT_EQ(w.vms[1].image.prefetch_start_delay_s, 60);
  EXPECT_TRUE(w.vms[1].image.compact);
  EXPECT_EQ(w.crashes.size(), 2u);
}

// A VM group's members get names "-0", "-1", ...; crashes may name the group or one member.
TEST(LoadWorkload, CrashesMayNameAVmGroupOrOneMember) {
  const std::string yaml =
      std::string(kMinimal) +
      R"(  - {name: web, count: 2, disk: d, phases: [{kind: idle, duration: 1s}]}
crashes:
  - {vm: web, at: 1s}
  - {vm: web-1, at: 1s}
)";
  EXPECT_EQ(Load(yaml).crashes.size(), 2u);
  EXPECT_EQ(LoadError(std::string(kMinimal) +
                      R"(  - {name: web, count: 2, disk: d, phases: [{kind: idle, duration: 1s}]}
crashes:
  - {vm: web-2, at: 1s}
)"),
            "w.yaml:10:10: crashes[0].vm: web-2 is not defined under vms");
}

// ---------------------------------------------------------------------------------------------
// Errors: each names the file, the 1-based line and column, and the key path.

TEST(LoadWorkloadErrors, TheExampleOfTheHeader) {
  EXPECT_EQ(LoadError(R"(disks:
  - {name: d}
vms:
  - name: a
    disk: d
    phases: [{kind: random, ops: 1}]
  - name: b
    disk: d
    phases:
      - kind: random
        ops: 10
        read_percent: 150
)"),
            "w.yaml:12:23: vms[1].phases[0].read_percent: 150 is not a percentage (0..100)");
}

TEST(LoadWorkloadErrors, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_EQ(LoadError("vms: [1, 2\ndisks: 3\n"),
            "w.yaml:2:6: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(LoadError("name: a: b\n"), "w.yaml:1:8: invalid YAML: illegal map value");
  EXPECT_EQ(LoadError("vms: *nope\n"),
            "w.yaml:1:6: invalid YAML: the referenced anchor is not defined");
  EXPECT_EQ(LoadError("vms:\n  - {name: \"unterminated}\n"),
            "w.yaml:3:1: invalid YAML: end of map flow not found");
}

TEST(LoadWorkloadErrors, UnknownKeys) {
  EXPECT_EQ(LoadError(std::string(kMinimal) + "colour: blue\n"),
            "w.yaml:8:1: colour: unknown key (known: name, seed, max_time, disks, bases, vms, "
            "latency_spikes, errors, crashes, swarm)");
  EXPECT_EQ(LoadError(R"(disks: [{name: d}]
vms:
  - name: vm
    disk: d
    phases:
      - {kind: random, ops: 10, blocksize: 4KiB}
)"),
            "w.yaml:6:33: vms[0].phases[0].blocksize: unknown key (known: kind, duration, ops, "
            "queue_depth, read_percent, sizes, range_offset, range, hot_set, zipf_theta, "
            "flush_every_writes, think_time, working_set, path_seed, align, sync_writes)");
  // The unit suffix is not part of the key.
  const std::string e = LoadError(R"(disks: [{name: d, read_latency_ns: 5}])");
  EXPECT_EQ(e.rfind("w.yaml:1:19: disks[0].read_latency_ns: unknown key", 0), 0u) << e;
}

TEST(LoadWorkloadErrors, DuplicateKeys) {
  EXPECT_EQ(LoadError(std::string(kMinimal) + "seed: 1\nseed: 2\n"),
            "w.yaml:9:1: seed: key appears twice");
}

TEST(LoadWorkloadErrors, WrongTypes) {
  EXPECT_EQ(LoadError("disks: {name: d}\n"),
            "w.yaml:1:8: disks: expects a list of entries (- ...)");
  EXPECT_EQ(LoadError("disks:\n  - {name: d, read_latency: [1ms, 2ms]}\n"),
            "w.yaml:2:29: disks[0].read_latency: expects a duration like 100us, not a list");
  EXPECT_EQ(
      LoadError(R"(disks: [{name: d}]
vms:
  - name: vm
    disk: d
    image: 4GiB
)"),
      "w.yaml:5:12: vms[0].image: expects a map with the keys size, compact, block_size, "
      "chunk_size, journal_size, copy_on_read, data_file, prefetch_start_delay, prefetch_slots, "
      "prefetch_slot_size, prefetch_min_read, prefetch_min_write, prefetch_max_read, "
      "prefetch_max_write, prefetch_throttle, prefetch_measure_time, prefetch_alpha, "
      "prefetch_queue_target, prefetch_control, prefetch_read_size, prefetch_window_max, "
      "record_prefetch_profile, prefetch_profile_from, "
      "profile_prefetch_delay, "
      "journal_mode, journal_buffer, journal_flush_period");
  EXPECT_EQ(LoadError("disks: [{name: d, volatile_cache: maybe}]\n"),
            "w.yaml:1:35: disks[0].volatile_cache: maybe is not true or false");
  EXPECT_EQ(LoadError("- a\n- b\n"),
            "w.yaml:1:1: expects a map with the keys name, seed, max_time, disks, bases, vms, "
            "latency_spikes, errors, crashes, swarm");
  EXPECT_EQ(LoadError("name: [a]\n"), "w.yaml:1:7: name: expects a string, not a list");
  EXPECT_EQ(LoadError("? [a]\n: 1\n"), "w.yaml:1:3: keys must be plain words");
}

// `name:` with nothing after it: yaml-cpp marks the empty value at the next line, the message
// points at the key.
TEST(LoadWorkloadErrors, EmptyValuesPointAtTheirKey) {
  EXPECT_EQ(LoadError("seed:\nname: x\n"), "w.yaml:1:1: seed: needs a value: a whole number");
  EXPECT_EQ(LoadError("disks:\n  - name: d\n    jitter:\n"),
            "w.yaml:3:5: disks[0].jitter: needs a value: a duration like 100us");
}

TEST(LoadWorkloadErrors, BadUnits) {
  EXPECT_EQ(LoadError("disks: [{name: d, read_latency: 100}]\n"),
            "w.yaml:1:33: disks[0].read_latency: 100 is not a duration: needs a unit (ns, us, "
            "ms, s, min or h)");
  EXPECT_EQ(LoadError("disks: [{name: d, bandwidth: 1Gb/s}]\n")
                .rfind("w.yaml:1:30: disks[0].bandwidth: 1Gb/s is not a bandwidth: unknown unit "
                       "'Gb/s'",
                       0),
            0u);
  EXPECT_EQ(LoadError("disks: [{name: d, size: -1GiB}]\n"),
            "w.yaml:1:25: disks[0].size: -1GiB is not a size: negative");
  EXPECT_EQ(LoadError("disks: [{name: d, queue_depth: 99999999999}]\n"),
            "w.yaml:1:32: disks[0].queue_depth: 99999999999 is too large (at most 4294967295)");
  EXPECT_EQ(LoadError("latency_spikes: [{disk: d, probability: 2}]\ndisks: [{name: d}]\n"),
            "w.yaml:1:41: latency_spikes[0].probability: 2 is not a probability: more than 1 "
            "(100%, 1000000ppm)");
}

TEST(LoadWorkloadErrors, ImpossibleNumbers) {
  EXPECT_EQ(LoadError("disks: [{name: d, queue_depth: 0}]\n"),
            "w.yaml:1:32: disks[0].queue_depth: 0 is too small (at least 1)");
  EXPECT_EQ(LoadError("disks: [{name: d, bandwidth: 0MB/s}]\n"),
            "w.yaml:1:30: disks[0].bandwidth: 0MB/s is too small (at least 1)");
  EXPECT_EQ(LoadError(R"(disks: [{name: d}]
vms:
  - {name: vm, disk: d, count: 0, phases: [{kind: idle, duration: 1s}]}
)"),
            "w.yaml:3:32: vms[0].count: 0 is too small (at least 1)");
  EXPECT_EQ(LoadError(R"(disks: [{name: d}]
vms:
  - name: vm
    disk: d
    phases:
      - {kind: random, ops: 1, queue_depth: 0}
)"),
            "w.yaml:6:45: vms[0].phases[0].queue_depth: 0 is too small (at least 1)");
  EXPECT_EQ(LoadError("max_time: 0s\n"), "w.yaml:1:11: max_time: 0s is too small (at least 1)");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "bases: [{name: b, disk: d, size: 1MiB, "
                                              "nonzero: 2MiB}]\n"),
            "w.yaml:8:49: bases[0].nonzero: 2MiB is larger than the base's size 1048576");
}

TEST(LoadWorkload, PrefetchTuningInPeoplesUnits) {
  const WorkloadConfig w = Load(R"(disks: [{name: d}]
vms:
  - name: vm
    disk: d
    image:
      prefetch_start_delay: 1s
      prefetch_slots: 4
      prefetch_slot_size: 256KiB
      prefetch_min_read: 8MiB/s
      prefetch_min_write: 80Mbit/s
      prefetch_max_read: 0MiB/s
      prefetch_max_write: 100MB/s
      prefetch_throttle: 2s
      prefetch_measure_time: 50ms
      prefetch_alpha: 50%
      record_prefetch_profile: true
      profile_prefetch_delay: 0s
    phases: [{kind: idle, duration: 1s}]
  - name: later
    disk: d
    image: {prefetch_profile_from: vm, profile_prefetch_delay: 3s}
    phases: [{kind: idle, duration: 1s}]
)");
  ASSERT_EQ(w.vms.size(), 2u);
  const ImageConfig& i = w.vms[0].image;
  EXPECT_TRUE(i.record_prefetch_profile);
  EXPECT_EQ(i.profile_prefetch_delay_s, 0);
  EXPECT_EQ(w.vms[1].image.prefetch_profile_from, "vm");
  EXPECT_EQ(w.vms[1].image.profile_prefetch_delay_s, 3);
  EXPECT_EQ(w.vms[1].image.prefetch_start_delay_s, -1);
  EXPECT_EQ(i.prefetch_slots, 4u);
  EXPECT_EQ(i.prefetch_slot_bytes, 256u * 1024);
  EXPECT_EQ(i.prefetch_min_read_bytes_per_s, 8u << 20);
  EXPECT_EQ(i.prefetch_min_write_bytes_per_s, 10'000'000u);
  EXPECT_EQ(i.prefetch_max_read_bytes_per_s, 0u);
  EXPECT_EQ(i.prefetch_max_write_bytes_per_s, 100'000'000u);
  EXPECT_EQ(i.prefetch_throttle_ns, 2'000'000'000u);
  EXPECT_EQ(i.prefetch_measure_ns, 50'000'000u);
  EXPECT_EQ(i.prefetch_alpha_percent, 50u);
}

TEST(LoadWorkloadErrors, PrefetchTuning) {
  const std::string head =
      "disks: [{name: d}]\nvms:\n  - name: vm\n    disk: d\n"
      "    phases: [{kind: idle, duration: 1s}]\n    image:\n";
  EXPECT_EQ(LoadError(head + "      prefetch_slots: 0\n"),
            "w.yaml:7:23: vms[0].image.prefetch_slots: 0 is too small (at least 1)");
  EXPECT_EQ(LoadError(head + "      prefetch_slot_size: 1000\n"),
            "w.yaml:7:27: vms[0].image.prefetch_slot_size: 1000 is not a multiple of 512");
  EXPECT_EQ(LoadError(head + "      prefetch_throttle: 1500us\n"),
            "w.yaml:7:26: vms[0].image.prefetch_throttle: 1500us is not a multiple of 1000000");
  EXPECT_NE(LoadError(head + "      prefetch_min_read: 5MiB\n").find("prefetch_min_read"),
            std::string::npos);
  EXPECT_NE(LoadError(head + "      prefetch_alpha: 120%\n").find("prefetch_alpha"),
            std::string::npos);
  EXPECT_EQ(LoadError(head + "      prefetch_profile_from: nobody\n"),
            "w.yaml:7:30: vms[0].image.prefetch_profile_from: nobody is not defined under vms");
}

TEST(LoadWorkloadErrors, SectorMultiples) {
  const std::string vm_head = "disks: [{name: d}]\nvms:\n  - name: vm\n    disk: d\n";
  EXPECT_EQ(
      LoadError(vm_head + "    phases: [{kind: random, ops: 1, sizes: {4KiB: 1, 1000: 1}}]\n"),
      "w.yaml:5:54: vms[0].phases[0].sizes.1000: 1000 is not a multiple of 512");
  EXPECT_EQ(LoadError(vm_head + "    phases: [{kind: random, ops: 1, sizes: 100}]\n"),
            "w.yaml:5:44: vms[0].phases[0].sizes: 100 is too small (at least 512)");
  EXPECT_EQ(LoadError(vm_head + "    image: {size: 1000000}\n"),
            "w.yaml:5:19: vms[0].image.size: 1000000 is not a multiple of 512");
  EXPECT_EQ(LoadError(vm_head + "    image: {block_size: 3000}\n"),
            "w.yaml:5:25: vms[0].image.block_size: 3000 is not a multiple of 512");
  EXPECT_EQ(LoadError(vm_head + "    image: {chunk_size: 0.25K}\n"),
            "w.yaml:5:25: vms[0].image.chunk_size: 0.25K is too small (at least 512)");
  EXPECT_EQ(LoadError(vm_head + "    image: {chunk_size: 1.7K}\n"),
            "w.yaml:5:25: vms[0].image.chunk_size: 1.7K is not a size: not a whole number of "
            "bytes");
  EXPECT_EQ(LoadError("disks: [{name: d}]\nbases: [{name: b, disk: d, size: 1001}]\n"),
            "w.yaml:2:34: bases[0].size: 1001 is not a multiple of 512");
  EXPECT_EQ(
      LoadError(vm_head + "    phases: [{kind: random, ops: 1, sizes: {4KiB: 1, 4096: 1}}]\n"),
      "w.yaml:5:54: vms[0].phases[0].sizes.4096: the same size appears twice");
  EXPECT_EQ(LoadError(vm_head + "    phases: [{kind: random, ops: 1, sizes: {4KiB: 0}}]\n"),
            "w.yaml:5:51: vms[0].phases[0].sizes.4KiB: 0 is too small (at least 1)");
}

TEST(LoadWorkloadErrors, UnknownWords) {
  const std::string vm_head = "disks: [{name: d}]\nvms:\n  - name: vm\n    disk: d\n";
  EXPECT_EQ(LoadError(vm_head + "    phases: [{kind: scan, ops: 1}]\n"),
            "w.yaml:5:21: vms[0].phases[0].kind: scan is not a valid phase kind (boot, random, "
            "sequential, database, idle)");
  EXPECT_EQ(LoadError(vm_head + "    image: {journal_mode: async}\n"),
            "w.yaml:5:27: vms[0].image.journal_mode: async is not a valid journal mode (buffered, "
            "unbuffered)");
  EXPECT_EQ(LoadError(vm_head + "    phases: [{kind: random, ops: 1, hot_set: pareto}]\n"),
            "w.yaml:5:46: vms[0].phases[0].hot_set: pareto is not a valid hot set (uniform, zipf)");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "errors: [{disk: d, op: trim}]\n"),
            "w.yaml:8:24: errors[0].op: trim is not a valid operation (read, write, flush, any)");
  EXPECT_EQ(
      LoadError(std::string(kMinimal) + "crashes: [{at: 1s, op: discard}]\n"),
      "w.yaml:8:24: crashes[0].op: discard is not a valid operation (read, write, flush, any)");
  EXPECT_EQ(
      LoadError("disks: [{name: d, preset: nvme}]\n"),
      "w.yaml:1:27: disks[0].preset: nvme is not a valid disk preset (ssd, hdd, network, \"\")");
  EXPECT_EQ(LoadError(vm_head + "    phases: [{kind: random, ops: 1, zipf_theta: -1}]\n"),
            "w.yaml:5:49: vms[0].phases[0].zipf_theta: -1 is not a positive number like 0.99");
  EXPECT_EQ(LoadError(vm_head + "    image: {prefetch_start_delay: 1500ms}\n"),
            "w.yaml:5:35: vms[0].image.prefetch_start_delay: 1500ms is not a multiple of "
            "1000000000");
}

TEST(LoadWorkloadErrors, References) {
  EXPECT_EQ(LoadError("disks: [{name: d}]\nvms: [{name: vm, disk: e}]\n"),
            "w.yaml:2:24: vms[0].disk: e is not defined under disks");
  EXPECT_EQ(LoadError("disks: [{name: d}]\nvms: [{name: vm, disk: d, base: b}]\n"),
            "w.yaml:2:33: vms[0].base: b is not defined under bases");
  EXPECT_EQ(LoadError("disks: [{name: d}]\nbases: [{name: b, disk: net}]\n"),
            "w.yaml:2:25: bases[0].disk: net is not defined under disks");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "latency_spikes: [{disk: x}]\n"),
            "w.yaml:8:25: latency_spikes[0].disk: x is not defined under disks");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "errors:\n  - disk: \"\"\n"),
            "w.yaml:9:11: errors[0].disk: \"\" is not defined under disks");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "crashes: [{vm: db, at: 1s}]\n"),
            "w.yaml:8:16: crashes[0].vm: db is not defined under vms");
}

TEST(LoadWorkloadErrors, ReferencesMayComeBeforeTheirDefinitionInTheFile) {
  const WorkloadConfig w = Load(R"(crashes: [{vm: vm, at: 1s}]
vms: [{name: vm, disk: d, base: b, phases: [{kind: boot, ops: 5}]}]
bases: [{name: b, disk: d}]
disks: [{name: d}]
)");
  EXPECT_EQ(w.vms.at(0).base, "b");
}

TEST(LoadWorkloadErrors, DuplicateNames) {
  EXPECT_EQ(LoadError(std::string(kMinimal) + "  - {name: vm, disk: d}\n"),
            "w.yaml:8:12: vms[1].name: duplicate name vm");
  EXPECT_EQ(LoadError("disks:\n  - name: d\n  - name: d\n"),
            "w.yaml:3:11: disks[1].name: duplicate name d");
  EXPECT_EQ(LoadError("disks: [{name: d}]\nbases: [{name: b, disk: d}, {name: b, disk: d}]\n"),
            "w.yaml:2:36: bases[1].name: duplicate name b");
  // A group's expanded names collide with a VM defined before it.
  EXPECT_EQ(LoadError(std::string(kMinimal) +
                      "  - {name: web-1, disk: d, phases: [{kind: idle, duration: 1s}]}\n"
                      "  - {name: web, count: 2, disk: d, phases: [{kind: idle, duration: 1s}]}\n"),
            "w.yaml:9:5: vms[2]: VM name web-1 is already taken");
}

TEST(LoadWorkloadErrors, MissingParts) {
  EXPECT_EQ(LoadError(""), "w.yaml:1:1: a workload needs at least one VM under vms");
  EXPECT_EQ(LoadError("# nothing\nname: x\nvms: []\n"),
            "w.yaml:2:1: a workload needs at least one VM under vms");
  EXPECT_EQ(LoadError("disks: [{name: d}]\nvms:\n  - name: vm\n    disk: d\n"),
            "w.yaml:3:5: vms[0]: a VM needs at least one phase");
  EXPECT_EQ(LoadError("disks: [{name: d}]\nvms: [{name: vm, phases: [{kind: boot, ops: 1}]}]\n"),
            "w.yaml:2:7: vms[0]: a VM needs a disk for its image");
  EXPECT_EQ(LoadError("disks: [{preset: ssd}]\n"), "w.yaml:1:9: disks[0]: a disk needs a name");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "crashes: [{vm: vm}]\n"),
            "w.yaml:8:11: crashes[0]: a crash needs at, after_ops or random_per_hour");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "  - {name: b, disk: d, phases: [{ops: 1}]}\n"),
            "w.yaml:8:33: vms[1].phases[0]: a phase needs a kind (boot, random, sequential, "
            "database, idle)");
}

TEST(LoadWorkloadErrors, PhasesNeedAnEnd) {
  const std::string vm_head = "disks: [{name: d}]\nvms:\n  - name: vm\n    disk: d\n    phases:\n";
  EXPECT_EQ(LoadError(vm_head + "      - {kind: random, queue_depth: 4}\n"),
            "w.yaml:6:9: vms[0].phases[0]: a random phase needs a duration or ops");
  EXPECT_EQ(LoadError(vm_head + "      - {kind: boot, ops: 1}\n      - {kind: idle, ops: 100}\n"),
            "w.yaml:7:9: vms[0].phases[1]: an idle phase needs a duration");
}

TEST(LoadWorkloadFile, MissingFileIsNotFound) {
  const Result<WorkloadConfig> r = LoadWorkloadFile("/nonexistent/workload.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "/nonexistent/workload.yaml: cannot open the workload file");
}

TEST(LoadWorkloadFile, ErrorsNameThePath) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "fvd_sim_config_test_bad.yaml";
  std::ofstream(path) << "vms: 3\n";
  const Result<WorkloadConfig> r = LoadWorkloadFile(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path.string() + ":1:6: vms: expects a list of entries (- ...)");
}

TEST(LocateKey, NamesTheLineAndColumnOfAKeyOrNothing) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "fvd_sim_config_test_locate.yaml";
  std::ofstream(path) << "name: x\n"
                         "crashes:\n"
                         "  - {at: 1s}\n"
                         "  - vm: a\n"
                         "    after_ops: 5\n";
  const std::string p = path.string();
  EXPECT_EQ(LocateKey(p, {"crashes", "1", "after_ops"}), p + ":5:5");
  EXPECT_EQ(LocateKey(p, {"crashes", "0", "at"}), p + ":3:6");
  EXPECT_EQ(LocateKey(p, {"crashes"}), p + ":2:1");
  EXPECT_EQ(LocateKey(p, {"crashes", "2"}), "");               // no such entry
  EXPECT_EQ(LocateKey(p, {"crashes", "0", "after_ops"}), "");  // set elsewhere (--set)
  EXPECT_EQ(LocateKey(p, {"name", "x"}), "");
  std::filesystem::remove(path);
  EXPECT_EQ(LocateKey(p, {"crashes"}), "");  // no file
}

// A disk model file (what `fvdsim calibrate` writes), found beside the workload file: its figures
// come after the preset and before the keys written beside `model:`.
TEST(LoadWorkloadFile, ADiskModelFileSetsTheFiguresKeysBesideOverride) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "fvd_sim_config_test_model";
  fs::create_directories(dir);
  std::ofstream(dir / "m.yaml") << "# measured\nread_latency: 93us\nwrite_latency: 21us\n"
                                   "flush_latency: 1ms\nbandwidth: 1200MB/s\njitter: 7us\n"
                                   "queue_depth: 12\nvolatile_cache: false\n";
  std::ofstream(dir / "w.yaml")
      << "disks:\n  - {name: d, preset: hdd, model: m.yaml, jitter: 2us}\n"
         "vms: [{name: vm, disk: d, image: {size: 1MiB},\n"
         "       phases: [{kind: random, ops: 1}]}]\n";
  std::ofstream(dir / "bad.yaml") << "read_latency: 1us\nname: x\n";
  std::ofstream(dir / "wbad.yaml") << "disks: [{name: d, model: bad.yaml}]\n";
  std::ofstream(dir / "wmissing.yaml") << "disks: [{name: d, model: none.yaml}]\n";
  const Result<WorkloadConfig> r = LoadWorkloadFile((dir / "w.yaml").string());
  const Result<WorkloadConfig> bad = LoadWorkloadFile((dir / "wbad.yaml").string());
  const Result<WorkloadConfig> missing = LoadWorkloadFile((dir / "wmissing.yaml").string());
  fs::remove_all(dir);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const DiskConfig& d = r->disks[0];
  EXPECT_EQ(d.read_latency_ns, 93'000u);
  EXPECT_EQ(d.write_latency_ns, 21'000u);
  EXPECT_EQ(d.flush_latency_ns, 1'000'000u);
  EXPECT_EQ(d.bandwidth_bytes_per_s, 1'200'000'000u);
  EXPECT_EQ(d.jitter_ns, 2'000u);  // beside the model: it wins
  EXPECT_EQ(d.queue_depth, 12u);
  EXPECT_FALSE(d.volatile_cache);
  DiskConfig hdd;
  ApplyPreset("hdd", hdd);
  EXPECT_EQ(d.seek_ns_per_gib, hdd.seek_ns_per_gib);  // the preset's, which the model leaves
  // A model holds figures only; its errors name the model file, line and column.
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), (dir / "bad.yaml").string() +
                                        ":2:1: name: unknown key (known: read_latency, "
                                        "write_latency, flush_latency, fresh_write_latency, "
                                        "fresh_flush_latency, fua_write_latency, write_service, "
                                        "fresh_write_service, fua_write_service, "
                                        "fresh_fua_write_service, host_cost, "
                                        "fresh_write_host_cost, bandwidth, "
                                        "jitter, queue_depth, volatile_cache, seek_per_gib, "
                                        "max_seek, shared_bandwidth)");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), (dir / "wmissing.yaml").string() +
                                            ":1:26: disks[0].model: cannot open the disk model " +
                                            (dir / "none.yaml").string());
}

// Every shipped workload loads. The six documented ones must all be there.
TEST(LoadWorkloadFile, EveryShippedWorkloadLoads) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(FVD_WORKLOADS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    names.push_back(entry.path().filename().string());
    const Result<WorkloadConfig> r = LoadWorkloadFile(entry.path().string());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
  std::sort(names.begin(), names.end());
  for (const char* expected : {"boot.yaml", "random-rw.yaml", "database.yaml", "boot-storm.yaml",
                               "crash-storm.yaml", "prefetch-idle.yaml"}) {
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), expected)) << expected;
  }
}

}  // namespace
}  // namespace fvd::sim

namespace fvd::sim {
namespace {

TEST(Overrides, SetAKeyOnEveryEntryOfItsSection) {
  const std::string text = R"(disks: [{name: a, preset: ssd}, {name: b, preset: hdd}]
vms:
  - {name: v1, disk: a, phases: [{kind: random, ops: 10}, {kind: idle, duration: 1s}]}
  - {name: v2, disk: b, image: {compact: true}, phases: [{kind: random, ops: 10}]}
)";
  std::vector<Override> o;
  for (const char* t : {"journal_size=64KiB", "phase.queue_depth=3", "disk.jitter=0s",
                        "max_time=5s", "sizes={4KiB: 3, 64KiB: 1}"}) {
    auto parsed = ParseOverride(t);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    o.push_back(*parsed);
  }
  auto w = LoadWorkloadText(text, "w.yaml", o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->max_time_ns, 5'000'000'000u);
  for (const DiskConfig& d : w->disks) EXPECT_EQ(d.jitter_ns, 0u) << d.name;
  for (const VmConfig& v : w->vms) {
    EXPECT_EQ(v.image.journal_size_bytes, 64u << 10) << v.name;
    for (const PhaseConfig& p : v.phases) {
      EXPECT_EQ(p.queue_depth, 3u);
      EXPECT_EQ(p.sizes, (std::map<uint64_t, uint32_t>{{4096, 3}, {65536, 1}}));
    }
  }
  EXPECT_TRUE(w->vms[1].image.compact) << "keys not set keep the file's values";
}

TEST(Overrides, BadKeysAndValuesAreNamed) {
  EXPECT_EQ(ParseOverride("size=1GiB").status().message(),
            "--set size: ambiguous, say disk.size or base.size or image.size");
  EXPECT_EQ(ParseOverride("colour=blue").status().message(),
            "--set colour: no workload key colour");
  EXPECT_EQ(
      ParseOverride("vm.name=x").status().message().rfind("--set vm.name: vm has no key name", 0),
      0u);
  EXPECT_EQ(ParseOverride("nokey").status().message(), "--set nokey: expected KEY=VALUE");
  auto o = ParseOverride("phase.read_percent=150");
  ASSERT_TRUE(o.ok());
  auto w = LoadWorkloadText(kMinimal, "w.yaml", {*o});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().message(),
            "w.yaml: --set phase.read_percent=150: "
            "vms[0].phases[0].read_percent: 150 is not a percentage (0..100)");
}

}  // namespace
}  // namespace fvd::sim
