// Fitting the simulator's disk model (sim/disk/sim_disk.h) to what `fvdsim calibrate` measured
// on a real device.
//
// The model: an operation waits for one of `queue_depth` slots, then takes its fixed latency
// (read, write or flush), then its bytes cross a link of `bandwidth` that all operations share
// one after another, then a uniform jitter in [0, jitter). So at queue depth 1 a 4 KiB read
// takes read_latency + 4 KiB / bandwidth + jitter / 2 on average; large sequential reads at
// depth run at the bandwidth; a full queue of small reads completes queue_depth of them per
// mean latency. Writes into never-written space of a sparse file, and the flush after them,
// have fixed latencies of their own (fresh_*), measured on a second, sparse scratch file.
// Writes at depth complete one per service time (write_service, fresh_write_service), the time
// per write fio measured at depth 32: a device or file system that does part of each write one
// at a time (ext4 allocating into holes here) completes fewer writes at depth than its queue
// depth and latency allow; FUA writes likewise (fua_write_service, fresh_fua_write_service), the
// time per O_DSYNC write fio measured at depth 4. Every request first takes host_cost of the host,
// one at a time: the CPU real mode spent per request in its probe (host_probe.h), over written
// data; fresh_write_host_cost, the same writing into a new image.
#pragma once

#include <string>

#include "sim/config/config.h"

namespace fvd::sim::calibrate {

// Means and rates fio measured (nanoseconds, bytes per second, operations per second).
struct Measured {
  double read_4k_ns = 0;            // 4 KiB random reads, queue depth 1: mean completion latency
  double read_4k_stddev_ns = 0;     // and its standard deviation
  double read_64k_ns = 0;           // 64 KiB random reads, queue depth 1
  double read_4k_qd32_iops = 0;     // 4 KiB random reads, queue depth 32
  double seq_read_bytes_per_s = 0;  // 1 MiB sequential reads, queue depth 8
  double write_4k_ns = 0;           // 4 KiB random writes, queue depth 1
  double write_4k_qd32_iops = 0;    // 4 KiB random writes, queue depth 32 (0: not measured)
  double flush_ns = 0;              // an fsync after each 4 KiB write: the fsync's latency
  double fua_write_4k_ns = 0;       // 4 KiB random writes with O_DSYNC (FUA), queue depth 1
  // The same two into a sparse file nobody wrote (0: not measured, as on a block device).
  double fresh_write_4k_ns = 0;
  double fresh_flush_ns = 0;
  double fresh_write_4k_qd32_iops = 0;  // at queue depth 32, every write into a hole
  // 4 KiB random writes with O_DSYNC at queue depth 4, on the filled file and into a sparse one
  // (0: not measured).
  double fua_write_4k_qd4_iops = 0;
  double fresh_fua_write_4k_qd4_iops = 0;
  // Real mode's CPU per request on this storage (host_probe.h; 0: not measured, as on a device).
  double host_cpu_per_request_ns = 0;
  double fresh_write_host_cpu_ns = 0;  // and per request writing into a new image
};

// The disk model for `m` (name, preset and size left empty). Seeks are not modelled: the
// probes read and write at random and sequentially alike, and a disk that seeks shows it as
// latency.
DiskConfig FitModel(const Measured& m);

// The model as a disk model file (`model: FILE` in a workload's disk): every figure, after
// `comment` (lines prefixed with "# ").
std::string ModelYaml(const DiskConfig& model, const std::string& comment);

}  // namespace fvd::sim::calibrate
