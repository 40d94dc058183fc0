#include "sim/world/image_plan.h"

#include <algorithm>

#include "core/format/layout.h"
#include "core/util/prng.h"
#include "sim/disk/initial_content.h"

namespace fvd::sim {
namespace {

// The workload's prefetch tuning, in the header's units (KiB/s, ms).
void SetPrefetchTuning(const ImageConfig& c, format::Header& h) {
  const auto kibps = [](uint64_t bytes_per_s) { return static_cast<int32_t>(bytes_per_s / 1024); };
  const auto ms = [](uint64_t ns) { return static_cast<int32_t>(ns / 1'000'000); };
  h.num_prefetch_slots = static_cast<int32_t>(c.prefetch_slots);
  h.bytes_per_prefetch = static_cast<int32_t>(c.prefetch_slot_bytes);
  h.prefetch_min_read_throughput = kibps(c.prefetch_min_read_bytes_per_s);
  h.prefetch_min_write_throughput = kibps(c.prefetch_min_write_bytes_per_s);
  h.prefetch_max_read_throughput = kibps(c.prefetch_max_read_bytes_per_s);
  h.prefetch_max_write_throughput = kibps(c.prefetch_max_write_bytes_per_s);
  h.prefetch_throttle_time = ms(c.prefetch_throttle_ns);
  h.prefetch_read_throughput_measure_time = ms(c.prefetch_measure_ns);
  h.prefetch_write_throughput_measure_time = ms(c.prefetch_measure_ns);
  h.prefetch_perf_calc_alpha = static_cast<int32_t>(c.prefetch_alpha_percent);
}

}  // namespace

VmConfig GroupMember(const VmConfig& group, uint32_t i, uint64_t base_len) {
  constexpr uint64_t kSector = 512;
  VmConfig v = group;
  if (group.count != 1) v.name = group.name + "-" + std::to_string(i);
  if (v.image.size_bytes == 0) v.image.size_bytes = (base_len + kSector - 1) / kSector * kSector;
  return v;
}

uint64_t SeededBytes(const BaseImageConfig& base) {
  return base.nonzero_bytes == 0 ? base.size_bytes : std::min(base.nonzero_bytes, base.size_bytes);
}

std::function<uint64_t(uint64_t)> OriginalValues(uint64_t content_seed, uint64_t seeded_bytes,
                                                 uint64_t base_len) {
  return [content_seed, seeded_bytes, base_len](uint64_t sector) -> uint64_t {
    if (sector * 512 >= base_len) return 0;  // most sectors of most disks
    return InitialToken(content_seed, seeded_bytes, sector);
  };
}

bool CrashApplies(const std::string& pattern, const std::string& vm) {
  return pattern.empty() || vm == pattern || vm.rfind(pattern + "-", 0) == 0;
}

std::vector<std::vector<uint64_t>> CrashTimes(const WorkloadConfig& config, uint64_t run_seed) {
  constexpr uint64_t kNsPerHour = 3'600'000'000'000ull;
  constexpr uint64_t kCrashTimes = 3;  // simulation.cc's SeedIndex
  Prng times(DeriveSeed(run_seed, kCrashTimes));
  std::vector<std::vector<uint64_t>> out;
  for (const CrashConfig& c : config.crashes) {
    std::vector<uint64_t> at = c.at_ns;
    const uint64_t random = c.random_per_hour * config.max_time_ns / kNsPerHour;
    for (uint64_t i = 0; i < random; ++i) at.push_back(times.Below(config.max_time_ns));
    std::sort(at.begin(), at.end());
    if (at.size() > c.max_crashes) at.resize(c.max_crashes);
    out.push_back(std::move(at));
  }
  return out;
}

Result<format::Header> PlanVmImage(const VmConfig& vm, uint64_t base_len) {
  format::CreateOptions o;
  o.virtual_size = vm.image.size_bytes;
  if (!vm.base.empty()) {
    o.base_img = vm.base;
    o.base_img_length = base_len;
  }
  o.compact_image = vm.image.compact;
  o.block_size = vm.image.block_size_bytes;
  o.chunk_size = vm.image.chunk_size_bytes;
  o.journal_size = vm.image.journal_size_bytes;
  o.copy_on_read = vm.image.copy_on_read;
  if (vm.image.data_file) o.data_file = vm.name + ".data";
  o.prefetch_start_delay = vm.image.prefetch_start_delay_s;
  FVD_ASSIGN_OR_RETURN(format::Header h, format::PlanImage(o));
  SetPrefetchTuning(vm.image, h);
  h.profile_directed_prefetch_start_delay = vm.image.profile_prefetch_delay_s;
  return h;
}

}  // namespace fvd::sim
