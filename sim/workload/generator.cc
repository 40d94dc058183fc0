#include "sim/workload/generator.h"

#include <algorithm>
#include <vector>

#include "sim/workload/zipf.h"

namespace fvd::sim {
namespace {

// Picks an I/O size by weight.
class SizeMix {
 public:
  explicit SizeMix(const std::map<uint64_t, uint32_t>& sizes) {
    for (const auto& [size, weight] : sizes) {
      total_ += weight;
      sizes_.push_back({size, total_});
    }
  }
  uint64_t Pick(Prng& p) const {
    const uint64_t r = p.Below(std::max<uint64_t>(total_, 1));
    for (const auto& [size, cumulative] : sizes_) {
      if (r < cumulative) return size;
    }
    return sizes_.empty() ? 4096 : sizes_.back().first;
  }
  uint64_t Max() const {
    return sizes_.empty() ? 4096 : std::max_element(sizes_.begin(), sizes_.end())->first;
  }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> sizes_;
  uint64_t total_ = 0;
};

// The region a phase works in, clipped to the disk.
struct Region {
  uint64_t begin;
  uint64_t length;
};

Region RegionOf(const PhaseConfig& c, uint64_t disk) {
  const uint64_t begin = std::min(c.range_offset_bytes, disk);
  const uint64_t len = c.range_bytes == 0 ? disk - begin : std::min(c.range_bytes, disk - begin);
  return {begin, len};
}

uint64_t Align(uint64_t size) {
  return size >= 4096 ? 4096 : 512;
}

// Counts operations against the phase's `ops` limit.
class Limited : public Generator {
 public:
  explicit Limited(uint64_t limit) : limit_(limit) {}
  std::optional<GuestOp> Next(Prng& p) final {
    if (limit_ != 0 && issued_ >= limit_) return std::nullopt;
    auto op = Make(p);
    if (op) ++issued_;
    return op;
  }

 protected:
  virtual std::optional<GuestOp> Make(Prng& p) = 0;

 private:
  uint64_t limit_;
  uint64_t issued_ = 0;
};

// Random reads and writes, uniform or zipf over the region, with optional periodic flushes
// (also the "database" kind: small random writes with frequent flushes).
class RandomGen : public Limited {
 public:
  // Offsets come in slots of `align` bytes; without an alignment, 4 KiB slots and each
  // request aligned to its size (4 KiB, or 512 bytes below 4 KiB).
  RandomGen(const PhaseConfig& c, uint64_t disk)
      : Limited(c.ops),
        c_(c),
        mix_(c.sizes),
        region_(RegionOf(c, disk)),
        slot_bytes_(c.align_bytes != 0 ? c.align_bytes : 4096) {
    slots_ = std::max<uint64_t>(
        1, (region_.length - std::min(region_.length, mix_.Max())) / slot_bytes_ + 1);
    if (c.hot_set == "zipf") zipf_.emplace(slots_, c.zipf_theta);
  }

 protected:
  std::optional<GuestOp> Make(Prng& p) override {
    if (c_.flush_every_writes != 0 && writes_since_flush_ >= c_.flush_every_writes) {
      writes_since_flush_ = 0;
      return GuestOp{GuestOp::kFlush, 0, 0};
    }
    const uint64_t size = mix_.Pick(p);
    const uint64_t slot = zipf_ ? zipf_->Sample(p) : p.Below(slots_);
    uint64_t off = region_.begin + slot * slot_bytes_;
    off = std::min(off, region_.begin + region_.length - std::min(region_.length, size));
    off -= off % (c_.align_bytes != 0 ? c_.align_bytes : Align(size));
    const bool read = p.Below(100) < c_.read_percent;
    if (!read) ++writes_since_flush_;
    return GuestOp{read ? GuestOp::kRead : GuestOp::kWrite, off, size};
  }

 private:
  PhaseConfig c_;
  SizeMix mix_;
  Region region_;
  uint64_t slot_bytes_;
  uint64_t slots_ = 1;
  std::optional<ZipfSampler> zipf_;
  uint32_t writes_since_flush_ = 0;
};

// Sequential I/O through the region (reads or writes per read_percent), wrapping at its end.
class SequentialGen : public Limited {
 public:
  SequentialGen(const PhaseConfig& c, uint64_t disk)
      : Limited(c.ops), c_(c), mix_(c.sizes), region_(RegionOf(c, disk)), next_(region_.begin) {}

 protected:
  std::optional<GuestOp> Make(Prng& p) override {
    const uint64_t size = std::min(mix_.Pick(p), region_.length);
    if (next_ + size > region_.begin + region_.length) next_ = region_.begin;
    const GuestOp op{p.Below(100) < c_.read_percent ? GuestOp::kRead : GuestOp::kWrite, next_,
                     size};
    next_ += size;
    return op;
  }

 private:
  PhaseConfig c_;
  SizeMix mix_;
  Region region_;
  uint64_t next_;
};

// A boot: reads through a working set of the base from the region's start, mostly in order
// with occasional jumps, pausing `think_time` between reads. Ends once the working set has
// been read (or at the phase's limits). With a path seed, the path (sizes and jumps) comes
// from it instead of the VM's randomness, so every VM with that seed boots the same way.
class BootGen : public Generator {
 public:
  BootGen(const PhaseConfig& c, uint64_t disk) : c_(c), mix_(c.sizes) {
    if (c.path_seed != 0) path_.emplace(c.path_seed);
    const Region r = RegionOf(c, disk);
    begin_ = r.begin;
    set_ = c.working_set_bytes == 0 ? r.length : std::min(c.working_set_bytes, r.length);
    next_ = begin_;
  }
  std::optional<GuestOp> Next(Prng& vm) override {
    if (read_bytes_ >= set_ || (c_.ops != 0 && issued_ >= c_.ops)) return std::nullopt;
    Prng& p = path_.has_value() ? *path_ : vm;
    const uint64_t size = std::min(mix_.Pick(p), set_);
    if (p.Chance(1, 10)) next_ = begin_ + p.Below(set_ / 4096) * 4096;  // a jump
    if (next_ + size > begin_ + set_) next_ = begin_;
    const GuestOp op{GuestOp::kRead, next_, size};
    next_ += size;
    read_bytes_ += size;
    ++issued_;
    return op;
  }
  uint64_t think_time_ns() const override { return c_.think_time_ns; }

 private:
  PhaseConfig c_;
  SizeMix mix_;
  std::optional<Prng> path_;
  uint64_t begin_ = 0, set_ = 0, next_ = 0, read_bytes_ = 0, issued_ = 0;
};

// Nothing: the phase lasts its duration.
class IdleGen : public Generator {
 public:
  std::optional<GuestOp> Next(Prng&) override { return std::nullopt; }
};

}  // namespace

std::unique_ptr<Generator> MakeGenerator(const PhaseConfig& phase, uint64_t disk_bytes) {
  if (phase.kind == "boot") return std::make_unique<BootGen>(phase, disk_bytes);
  if (phase.kind == "sequential") return std::make_unique<SequentialGen>(phase, disk_bytes);
  if (phase.kind == "random" || phase.kind == "database") {
    return std::make_unique<RandomGen>(phase, disk_bytes);
  }
  return std::make_unique<IdleGen>();
}

}  // namespace fvd::sim
