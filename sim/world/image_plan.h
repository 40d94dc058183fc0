// What a world builds from a workload's entries, shared by the simulated world and real mode
// (sim/real/) so that both make the same VMs: each member of a VM group, the header its image
// is created with, and what a never-written sector must read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/format/header.h"
#include "core/util/status.h"
#include "sim/config/config.h"

namespace fvd::sim {

// Member `i` of the VM group `group` over a base of `base_len` bytes (0: none): named NAME when
// the group has one member, else NAME-i, with its image size set (the base's, rounded up to a
// sector, unless the file gives one).
VmConfig GroupMember(const VmConfig& group, uint32_t i, uint64_t base_len);

// The bytes at the start of a base that hold seeded data; the rest read zeros.
uint64_t SeededBytes(const BaseImageConfig& base);

// The oracle's value of each never-written sector of a disk over a base of `base_len` bytes
// whose content is seeded with `content_seed` (0 bytes: no base): a base sector is a token
// sector, so its value is its token (sim/disk/initial_content.h); beyond the base, zeros
// (token 0).
std::function<uint64_t(uint64_t)> OriginalValues(uint64_t content_seed, uint64_t seeded_bytes,
                                                 uint64_t base_len);

// A crash entry's `vm` names one VM, a `count` group (its members are NAME-0, NAME-1, ...) or,
// empty, every VM: whether it hits the VM named `vm`.
bool CrashApplies(const std::string& pattern, const std::string& vm);

// Each crash entry's times, in the file's order: its `at` times and `random_per_hour` draws
// (uniform over max_time, from the run seed's kCrashTimes sub-seed), sorted, at most
// `max_crashes`.
std::vector<std::vector<uint64_t>> CrashTimes(const WorkloadConfig& config, uint64_t run_seed);

// `vm.image.size_bytes` must be set (the caller fills in the base's size); `vm.base` becomes the
// header's base file name, and a data file is named after the VM.
Result<format::Header> PlanVmImage(const VmConfig& vm, uint64_t base_len);

}  // namespace fvd::sim
