// What a workload file describes, as plain structs with units in the names (STYLE.md #8).
// sim/config/yaml_loader maps the YAML onto these one to one; the runner builds the world
// from them. Every field has the default written here; workloads/REFERENCE.md documents them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fvd::sim {

// A storage device model: latency = fixed + bytes / bandwidth + uniform jitter in
// [0, jitter_ns), at most queue_depth operations in service (the rest queue in order). The
// fixed part of a write into never-written space, and of the flush after such writes, may
// differ (fresh_*).
struct DiskConfig {
  std::string name;
  std::string preset;  // "ssd", "hdd", "network" or "" (all fields below)
  uint64_t read_latency_ns = 80'000;
  uint64_t write_latency_ns = 20'000;
  uint64_t flush_latency_ns = 200'000;
  // Writes into space never written before, and the next flush after them, as a file system
  // charges them for a sparse file (extent allocation, then its metadata commit at the flush;
  // `fvdsim calibrate` measures both). 0: as any write, as any flush.
  uint64_t fresh_write_latency_ns = 0;
  uint64_t fresh_flush_latency_ns = 0;
  // A write with FUA (durable when it completes; 0: write_latency). Into fresh space it pays
  // fresh_write_latency + fresh_flush_latency.
  uint64_t fua_write_latency_ns = 0;
  // The least time between two writes completing while many are queued: the work of a write
  // that the device (or the file system over it) does one write at a time, overlapping the
  // fixed latency. At queue depth 1 it changes nothing while it is below the write's latency;
  // at depth it caps writes at one per this time (`fvdsim calibrate` measures it at depth 32).
  // The fresh_ one is for writes into fresh space. 0: writes overlap freely up to queue_depth.
  uint64_t write_service_ns = 0;
  uint64_t fresh_write_service_ns = 0;
  // The same for FUA writes, which a file system makes durable one journal commit at a time
  // (`fvdsim calibrate` measures them at depth 4, where O_DSYNC writes into holes of ext4 took
  // 145 us each against 80 us at depth 32). 0: as any write.
  uint64_t fua_write_service_ns = 0;
  uint64_t fresh_fua_write_service_ns = 0;
  // The host's CPU time per request to this disk (system calls, the engine and what drives it),
  // which one thread spends one request at a time: an admitted request first waits for the
  // host, then takes host_cost of it, then its device time starts. The world has one host for
  // all its disks, as real mode runs every VM on one thread. At depth it caps requests
  // at one per host_cost; at depth 1 it adds host_cost to each. `fvdsim calibrate` measures it
  // as real mode's CPU per request on the calibrated storage. 0: the host costs nothing.
  uint64_t host_cost_ns = 0;
  // The host's time for a write into fresh space instead (a file system allocates on the
  // submitting thread: calibrate's probe measured 29.5 us of CPU per 4 KiB O_DIRECT write into
  // a new image on ext4 here, against 14.1 us per request over written data). 0: host_cost.
  uint64_t fresh_write_host_cost_ns = 0;
  uint64_t bandwidth_bytes_per_s = 500'000'000;
  uint64_t jitter_ns = 10'000;
  uint32_t queue_depth = 32;
  bool volatile_cache = true;     // writes durable only after flush (or FUA)
  uint64_t seek_ns_per_gib = 0;   // HDD: extra latency per GiB of head movement
  uint64_t max_seek_ns = 0;       // HDD: cap on that extra latency
  bool shared_bandwidth = false;  // network: concurrent transfers share the bandwidth
  uint64_t size_bytes = 0;        // 0 = as large as needed

  bool operator==(const DiskConfig&) const = default;
};

// The base image a VM boots from, on a named disk (usually a shared network server).
struct BaseImageConfig {
  std::string name;
  std::string disk;  // DiskConfig::name that serves it
  uint64_t size_bytes = 1ull << 30;
  uint64_t nonzero_bytes = 0;  // the first bytes hold seeded data; the rest are zero (0 = all)

  bool operator==(const BaseImageConfig&) const = default;
};

// The FVD image of a VM (create options and the journal mode it is opened with).
struct ImageConfig {
  uint64_t size_bytes = 0;  // 0 = the base image's size
  bool compact = false;
  uint32_t block_size_bytes = 0;  // 0 = automatic
  uint64_t chunk_size_bytes = 1 << 20;
  uint64_t journal_size_bytes = 16 << 20;
  bool copy_on_read = false;
  // The image's data in a separate data file (FVD-FORMAT.md's data_file), on a disk of the same
  // model as the image's; a crash of the host hits both.
  bool data_file = false;
  int32_t prefetch_start_delay_s = -1;
  // Whole-image prefetch tuning (FVD-FORMAT.md); the defaults are the format's.
  uint32_t prefetch_slots = 2;
  uint64_t prefetch_slot_bytes = 1 << 20;
  uint64_t prefetch_min_read_bytes_per_s = 5120 * 1024;  // below: flip the throttle coin
  uint64_t prefetch_min_write_bytes_per_s = 5120 * 1024;
  uint64_t prefetch_max_read_bytes_per_s = 0;  // cap; 0 = none
  uint64_t prefetch_max_write_bytes_per_s = 0;
  uint64_t prefetch_throttle_ns = 30'000'000'000;  // longest pause; 0 = never throttle
  uint64_t prefetch_measure_ns = 100'000'000;      // throughput window (busy time)
  uint32_t prefetch_alpha_percent = 80;            // weight of the old average
  // Delay-based pacing: a base read that queued longer than this makes the prefetcher leave a
  // gap before its next read (ImageOptions::prefetch_queue_target). 0: off.
  uint64_t prefetch_queue_target_ns = 0;
  // "fvd" (FVD's throughput coin, one read per slot) or "window" (pieces of
  // prefetch_read_bytes, a queueing-delay window of at most prefetch_window_max in flight;
  // ImageOptions::prefetch_control).
  std::string prefetch_control = "window";
  uint64_t prefetch_read_bytes = 16 * 1024;
  uint32_t prefetch_window_max = 64;
  // Profile-directed prefetch: record the order this VM's guest reads pull base blocks, or
  // follow the profile another VM (defined earlier in the file) recorded, starting this many
  // seconds after open (-1: never).
  bool record_prefetch_profile = false;
  std::string prefetch_profile_from;
  int32_t profile_prefetch_delay_s = -1;
  std::string journal_mode = "buffered";  // "buffered" or "unbuffered"
  uint64_t journal_buffer_bytes = 64 << 10;
  uint64_t journal_flush_period_ns = 5'000'000'000;

  bool operator==(const ImageConfig&) const = default;
};

// One phase of a VM's workload. Kinds: "boot", "random", "sequential", "database", "idle".
struct PhaseConfig {
  std::string kind;
  uint64_t duration_ns = 0;    // phase ends after this long (0: when `ops` are done)
  uint64_t ops = 0;            // or after this many guest operations
  uint32_t queue_depth = 1;    // guest operations in flight at once
  uint32_t read_percent = 70;  // random/database: share of reads
  // I/O sizes and their weights, e.g. {4096: 80, 65536: 20}.
  std::map<uint64_t, uint32_t> sizes = {{4096, 1}};
  uint64_t range_offset_bytes = 0;  // where in the disk the phase works
  uint64_t range_bytes = 0;         // 0 = the whole disk
  std::string hot_set = "uniform";  // "uniform" or "zipf"
  double zipf_theta = 0.99;
  uint32_t flush_every_writes = 0;  // random/database: a flush after this many writes (0: never)
  // random/database: request offsets are multiples of this (0: 4 KiB for requests of 4 KiB or
  // more, else 512). 512 puts requests across block boundaries and inside blocks.
  uint64_t align_bytes = 0;
  // Share of writes the VM first tries to complete at once, as a synchronous host does (fio's
  // sync jobs, fvd-img bench at depth 1: Image::TryWriteNow); the rest, and those the image
  // declines, are submitted.
  uint32_t sync_write_percent = 0;
  uint64_t think_time_ns = 0;      // boot: pause between reads
  uint64_t working_set_bytes = 0;  // boot: how much of the base a boot reads
  uint64_t path_seed = 0;  // boot: VMs with the same non-zero seed read the same blocks in the
                           // same order (one OS's boot path); 0: each VM its own

  bool operator==(const PhaseConfig&) const = default;
};

struct VmConfig {
  std::string name;
  uint32_t count = 1;  // this many identical VMs (names get -0, -1, ...)
  std::string base;    // BaseImageConfig::name, or "" for none
  std::string disk;    // DiskConfig::name holding its FVD image
  ImageConfig image;
  std::vector<PhaseConfig> phases;
  uint64_t start_ns = 0;  // when it starts (boot storms stagger these)

  bool operator==(const VmConfig&) const = default;
};

// Faults stacked on a named disk.
struct LatencySpikeConfig {
  std::string disk;
  uint32_t probability_ppm = 0;  // per operation, in parts per million
  uint64_t extra_ns = 0;

  bool operator==(const LatencySpikeConfig&) const = default;
};
struct ErrorConfig {
  std::string disk;
  std::string op = "write";   // "read", "write", "flush" or "any"
  uint64_t offset_bytes = 0;  // inside [offset, offset + length); length 0 = anywhere
  uint64_t length_bytes = 0;
  uint32_t probability_ppm = 1'000'000;
  uint64_t after_ops = 0;  // only after this many matching operations
  uint64_t count = 1;      // at most this many errors (0 = unlimited)

  bool operator==(const ErrorConfig&) const = default;
};
// How a crash treats each write not yet durable (sim_disk.h's crash model): it survives whole,
// is lost, or is torn, with these relative weights.
struct CrashFates {
  uint32_t survive = 1;
  uint32_t lose = 1;
  uint32_t tear = 1;

  bool operator==(const CrashFates&) const = default;
};

// Crashes of a VM's host (its image disk loses what the crash model lets it lose).
struct CrashConfig {
  std::string vm;               // a VM name, or "" for every VM
  std::vector<uint64_t> at_ns;  // at these virtual times
  uint64_t after_ops = 0;       // or after this many device operations of `op`
  std::string op = "write";
  // after_ops counts operations as they are submitted ("submit") or as they complete
  // ("complete": the crash comes right after an operation's completion, a persistence point).
  std::string on = "submit";
  uint32_t random_per_hour = 0;  // or at random, this many per virtual hour
  uint32_t max_crashes = 1000;
  CrashFates fates;

  bool operator==(const CrashConfig&) const = default;
};

// Fills `model` with the named preset's figures: "ssd" (local SSD), "hdd" (local HDD, seeks by
// distance), "network" (a base-image server over 1 Gbit/s); "" changes nothing. Returns false
// for an unknown name. The loader applies a disk's preset before the keys written beside it.
bool ApplyPreset(const std::string& preset, DiskConfig& model);

struct WorkloadConfig {
  std::string name;
  uint64_t seed = 1;
  uint64_t max_time_ns = 3'600'000'000'000;  // stop after this much virtual time
  std::vector<DiskConfig> disks;
  std::vector<BaseImageConfig> bases;
  std::vector<VmConfig> vms;
  std::vector<LatencySpikeConfig> latency_spikes;
  std::vector<ErrorConfig> errors;
  std::vector<CrashConfig> crashes;

  bool operator==(const WorkloadConfig&) const = default;
};

}  // namespace fvd::sim
