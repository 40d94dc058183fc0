#include "tools/fvd-img/update_options.h"

#include <charconv>
#include <functional>
#include <limits>
#include <map>

#include "core/util/units.h"

namespace fvd::img {
namespace {

using format::Header;
using Setter = std::function<Status(const std::string& key, const std::string& v, Header&)>;

Status Bad(const std::string& key, const std::string& v, const std::string& why) {
  return Status::InvalidArgument("update " + key + "=" + v + ": " + why);
}

Setter Bool(bool Header::*field) {
  return [field](const std::string& key, const std::string& v, Header& h) -> Status {
    if (v == "on" || v == "true" || v == "yes" || v == "1") {
      h.*field = true;
    } else if (v == "off" || v == "false" || v == "no" || v == "0") {
      h.*field = false;
    } else {
      return Bad(key, v, "expected on or off");
    }
    return Status::Ok();
  };
}

template <typename T>
Setter Number(T Header::*field, bool size_suffixes) {
  return [field, size_suffixes](const std::string& key, const std::string& v, Header& h) -> Status {
    long long n = 0;
    if (size_suffixes) {
      auto r = ParseByteSize(v);
      if (!r.ok()) return Bad(key, v, r.status().message());
      n = static_cast<long long>(*r);
    } else {
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size())
        return Bad(key, v, "expected a whole number");
    }
    if (n < static_cast<long long>(std::numeric_limits<T>::min()) ||
        static_cast<unsigned long long>(n) >
            static_cast<unsigned long long>(std::numeric_limits<T>::max())) {
      return Bad(key, v, "out of range");
    }
    h.*field = static_cast<T>(n);
    return Status::Ok();
  };
}

Setter Text(std::string Header::*field) {
  return [field](const std::string&, const std::string& v, Header& h) -> Status {
    h.*field = v;
    return Status::Ok();
  };
}

// Growing only: shrinking would cut off guest data; a compact image's table must still fit
// its region.
Status SetSize(const std::string& key, const std::string& v, Header& h) {
  auto r = ParseByteSize(v);
  if (!r.ok()) return Bad(key, v, r.status().message());
  if (*r % format::kSectorSize != 0) return Bad(key, v, "not a multiple of 512");
  if (*r < h.virtual_disk_size) return Bad(key, v, "shrinking an image is not supported");
  const uint64_t old_region = h.table_region_size();
  h.virtual_disk_size = *r;
  if (h.compact_image && h.table_region_size() > old_region) {
    return Bad(key, v,
               "the chunk table would need " + std::to_string(h.table_region_size()) +
                   " bytes; its region holds " + std::to_string(old_region));
  }
  return Status::Ok();
}

std::map<std::string, std::pair<const char*, Setter>> Keys() {
  return {
      {"size", {"grow the virtual disk (size suffixes)", SetSize}},
      {"base_img", {"path of the base image", Text(&Header::base_img)}},
      {"data_file", {"path of the separate data file", Text(&Header::data_file)}},
      {"need_zero_init", {"on/off", Bool(&Header::need_zero_init)}},
      {"copy_on_read", {"on/off", Bool(&Header::copy_on_read)}},
      {"clean_shutdown", {"on/off: override (skip recovery)", Bool(&Header::clean_shutdown)}},
      {"max_outstanding_copy_on_read_data",
       {"bytes", Number(&Header::max_outstanding_copy_on_read_data, true)}},
      {"prefetch_start_delay",
       {"seconds (<= 0 disables)", Number(&Header::prefetch_start_delay, false)}},
      {"num_prefetch_slots", {"count", Number(&Header::num_prefetch_slots, false)}},
      {"bytes_per_prefetch", {"bytes", Number(&Header::bytes_per_prefetch, true)}},
      {"prefetch_min_read_throughput",
       {"KB/s", Number(&Header::prefetch_min_read_throughput, false)}},
      {"prefetch_min_write_throughput",
       {"KB/s", Number(&Header::prefetch_min_write_throughput, false)}},
      {"prefetch_perf_calc_alpha", {"percent", Number(&Header::prefetch_perf_calc_alpha, false)}},
      {"prefetch_read_throughput_measure_time",
       {"ms", Number(&Header::prefetch_read_throughput_measure_time, false)}},
      {"prefetch_write_throughput_measure_time",
       {"ms", Number(&Header::prefetch_write_throughput_measure_time, false)}},
      {"prefetch_throttle_time",
       {"ms (<= 0 disables throttling)", Number(&Header::prefetch_throttle_time, false)}},
      {"prefetch_max_read_throughput",
       {"KiB/s cap on prefetch base reads (0: none)",
        Number(&Header::prefetch_max_read_throughput, false)}},
      {"prefetch_max_write_throughput",
       {"KiB/s cap on prefetch image writes (0: none)",
        Number(&Header::prefetch_max_write_throughput, false)}},
      {"profile_directed_prefetch_start_delay",
       {"seconds (-1: never) until a given prefetch profile is followed",
        Number(&Header::profile_directed_prefetch_start_delay, false)}},
  };
}

}  // namespace

Status ApplyUpdates(const std::vector<std::string>& assignments, Header& h) {
  const auto keys = Keys();
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    const std::string key = a.substr(0, eq);
    auto it = keys.find(key);
    if (it == keys.end()) {
      return Status::InvalidArgument("update: unknown attribute '" + key +
                                     "' (see 'fvd-img update --help')");
    }
    if (eq == std::string::npos)
      return Status::InvalidArgument("update: '" + key + "' needs a value");
    FVD_RETURN_IF_ERROR(it->second.second(key, a.substr(eq + 1), h));
  }
  return Status::Ok();
}

std::string UpdateKeysHelp() {
  std::string out = "Attributes (key=value):\n";
  for (const auto& [key, spec] : Keys()) out += "  " + key + ": " + spec.first + "\n";
  return out;
}

}  // namespace fvd::img
