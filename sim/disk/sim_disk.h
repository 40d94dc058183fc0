// A simulated disk behind the seam, on virtual time (FAULT MODEL, in prose, as TigerBeetle's
// storage.zig opens with):
//
// Timing. At most `queue_depth` operations are in service; later ones wait in submission
// order. An operation admitted at time t pays its fixed latency (read, write or flush), plus
// for an HDD a seek that grows with the distance from the previous operation's end
// (seek_ns_per_gib per GiB, capped at max_seek_ns), then transfers its bytes through the
// disk's one link at bandwidth_bytes_per_s (transfers are serialized: concurrent requests
// share the bandwidth, so contention is real), plus a uniform jitter in [0, jitter_ns) drawn
// from the disk's own seeded PRNG. A FUA write pays fua_write_latency_ns if set. A write that
// covers a page nobody has written yet pays fresh_write_latency_ns instead, and the next flush
// fresh_flush_latency_ns instead of flush_latency_ns (a sparse file on a file system; 0: no
// difference); such a FUA write pays both at once. A write also takes write_service_ns
// (fresh_write_service_ns into fresh space) of a service the disk gives one write at a time,
// beside its fixed latency and transfer: it completes no sooner than its service ends, so writes at
// depth complete at most one per service time (0: no such service); a FUA write takes
// fua_write_service_ns (fresh_fua_write_service_ns into fresh space) instead when set. Before
// all of that, an admitted operation takes host_cost_ns of the host (a write into fresh space
// fresh_write_host_cost_ns when set), which serves one operation at a time in admission order
// (0: none). Completions never run inline.
//
// Data. Storage is sparse (4 KiB pages allocated on first write; token sectors kept as tokens). A
// read sees every write completed before the read completes. With a volatile cache, a completed
// write is only in the cache: it becomes durable when a flush submitted after its completion
// completes, or at once if it was written with FUA. Without a volatile cache, a write is durable
// when it completes.
//
// Crash. Crash(rng) models power failure now and builds the new durable image: every durable
// byte stays; each write that is not durable (completed into the cache, or still in flight)
// independently survives whole, is lost, or is torn (each 512-byte sector old or new), in
// submission order, by draws from `rng`; an in-flight flush counts as not completed. After a
// crash the disk is dead: operations in flight complete with kIoError ("crashed") and new
// submissions are accepted and complete with kIoError too, so the engine above unwinds. Revive()
// makes it serve again, reading the new durable image.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/seam/block_device.h"
#include "core/seam/virtual_loop.h"
#include "core/util/prng.h"
#include "sim/config/config.h"
#include "sim/world/trace.h"

namespace fvd::sim {

// Counters of one disk, for reports.
struct DiskStats {
  uint64_t reads = 0, writes = 0, flushes = 0, resizes = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t fua_writes = 0;
  uint64_t queued_ops = 0;  // operations that had to wait for a queue slot
  uint64_t busy_ns = 0;     // time the transfer link was busy
  uint64_t crashes = 0;
  uint64_t writes_lost = 0, writes_torn = 0, writes_survived = 0;  // at crashes
};

// The choices a crash makes: the fate of each write not yet durable (survives, lost, torn) and,
// for a torn write, which of its sectors are new. Drawn from a seeded PRNG (Crash(Prng&)), or
// scripted, to enumerate every combination (proptests/exhaustive_test.cc).
class CrashChooser {
 public:
  virtual ~CrashChooser() = default;
  // A choice in [0, n).
  virtual uint64_t Choose(uint64_t n) = 0;
  // A write's fate: 0 survives, 1 lost, 2 torn. Unless overridden, Choose(3).
  virtual uint64_t ChooseFate() { return Choose(3); }
};

// Draws exactly what Prng::Below and Prng::Chance(1, 2) would, so seeded runs keep their
// digests.
class PrngCrashChooser final : public CrashChooser {
 public:
  explicit PrngCrashChooser(Prng& p) : p_(p) {}
  uint64_t Choose(uint64_t n) override { return p_.Below(n); }

 private:
  Prng& p_;
};

// The same draws, with each write's fate weighted by `fates` (a crash's `fates:` key). Equal
// weights of 1 draw exactly what PrngCrashChooser does.
class FateMixChooser final : public CrashChooser {
 public:
  FateMixChooser(Prng& p, const CrashFates& fates) : p_(p), fates_(fates) {}
  uint64_t Choose(uint64_t n) override { return p_.Below(n); }
  uint64_t ChooseFate() override;

 private:
  Prng& p_;
  CrashFates fates_;
};

// The host's CPU, whose time requests take before their device time (DiskConfig::host_cost_ns):
// one thread, serving one request at a time. Disks share one (SimDisk::ShareHost) when one
// thread drives them all, as real mode runs every VM on one loop.
struct SimHost {
  uint64_t free_at_ns = 0;  // when it finishes the requests admitted so far
};

class SimDisk final : public BlockDevice {
 public:
  // `id` names the disk in the trace. `seed` seeds the jitter; `trace` may be null.
  SimDisk(VirtualLoop& loop, const DiskConfig& model, uint64_t size, uint64_t id, uint64_t seed,
          Trace* trace);
  ~SimDisk() override;

  uint64_t size() const override { return size_; }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override;
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override;
  Status SubmitFlush(IoCallback done) override;
  Status SubmitResize(uint64_t new_size, IoCallback done) override;
  // A write done right here (BlockDevice::TryWriteNow): it takes no virtual time, skips the
  // queue, and completes now as a write completing now would (into the volatile cache, durable
  // with FUA or without one). Declined while dead. The simulator's VMs always submit; the
  // property tests use it to play a synchronous host.
  bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode mode) override;

  // Power fails now (see the header comment). REQUIRES: alive.
  void Crash(Prng& rng);
  void Crash(Prng& rng, const CrashFates& fates);
  // The same with the choices from `chooser`: Choose(3) per write not yet durable (0 survives,
  // 1 lost, 2 torn), then for a torn one Choose(2) per sector it touches (0: new). Writes are
  // asked about in submission order.
  void Crash(CrashChooser& chooser);
  // Serves again after a crash.
  void Revive();
  // Requests take their host_cost on `host` (which must outlive the disk) from now on, instead
  // of on a host of this disk's own.
  void ShareHost(SimHost& host) { host_ = &host; }
  bool alive() const { return alive_; }

  // Synchronous access to the current contents for set-up and checks (no timing, no trace).
  void ReadNow(uint64_t offset, std::span<std::byte> buf) const;
  void WriteNowDurable(uint64_t offset, std::span<const std::byte> buf);  // set-up: durable at once
  // Bytes never written read seeded data below `nonzero_bytes` (zeros above) instead of zeros,
  // computed on demand: a base image's content costs no memory and no set-up time. Use before
  // any write; a resize does not reset it.
  void SetInitialContent(uint64_t seed, uint64_t nonzero_bytes);

  const DiskStats& stats() const { return stats_; }
  const DiskConfig& model() const { return model_; }
  // Bytes of pages held (durable plus cached), to keep memory in check.
  uint64_t allocated_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  VirtualLoop& loop_;
  DiskConfig model_;
  uint64_t size_;
  bool alive_ = true;
  DiskStats stats_;
  SimHost own_host_;
  SimHost* host_ = &own_host_;
};

}  // namespace fvd::sim
