// `fvd-img update FILE key=value ...`: the header attributes FVD-FORMAT.md lets a user change.
#pragma once

#include <string>
#include <vector>

#include "core/format/header.h"
#include "core/util/status.h"

namespace fvd::img {

// Applies `key=value` assignments to `h`. Keys: size (grow only), base_img, data_file,
// need_zero_init, copy_on_read, clean_shutdown, max_outstanding_copy_on_read_data,
// prefetch_start_delay, num_prefetch_slots, bytes_per_prefetch, prefetch_min_read_throughput,
// prefetch_min_write_throughput, prefetch_perf_calc_alpha,
// prefetch_read_throughput_measure_time, prefetch_write_throughput_measure_time,
// prefetch_throttle_time, prefetch_max_read_throughput, prefetch_max_write_throughput,
// profile_directed_prefetch_start_delay. Errors name the key and value.
Status ApplyUpdates(const std::vector<std::string>& assignments, format::Header& h);

std::string UpdateKeysHelp();

}  // namespace fvd::img
