// The FVD header a VM's image is created with, from its workload entry: shared by the simulated
// world and real mode (sim/real/), so both create the same image.
#pragma once

#include <cstdint>

#include "core/format/header.h"
#include "core/util/status.h"
#include "sim/config/config.h"

namespace fvd::sim {

// `vm.image.size_bytes` must be set (the caller fills in the base's size); `vm.base` becomes the
// header's base file name, and a data file is named after the VM.
Result<format::Header> PlanVmImage(const VmConfig& vm, uint64_t base_len);

}  // namespace fvd::sim
