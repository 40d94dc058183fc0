#include "tools/fvd-img/create_options.h"

#include <charconv>
#include <functional>
#include <map>

#include "core/format/profile_region.h"
#include "core/util/units.h"

namespace fvd::img {
namespace {

using Setter =
    std::function<Status(const std::string& key, const std::string& value, CreateRequest&)>;

struct OptionSpec {
  const char* help;
  Setter set;
};

Result<bool> ParseBool(const std::string& key, const std::string& v) {
  if (v == "on" || v == "true" || v == "yes" || v == "1") return true;
  if (v == "off" || v == "false" || v == "no" || v == "0") return false;
  return Status::InvalidArgument("option " + key + "=" + v + ": expected on or off");
}

Result<int32_t> ParseInt32(const std::string& key, const std::string& v) {
  int32_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return Status::InvalidArgument("option " + key + "=" + v + ": expected a whole number");
  }
  return out;
}

Result<uint64_t> ParseSize(const std::string& key, const std::string& v) {
  auto r = ParseByteSize(v);
  if (!r.ok()) return Status::InvalidArgument("option " + key + ": " + r.status().message());
  return r;
}

template <typename T>
Setter SizeSetter(T format::CreateOptions::*field, uint64_t max) {
  return [field, max](const std::string& key, const std::string& v, CreateRequest& r) -> Status {
    FVD_ASSIGN_OR_RETURN(uint64_t n, ParseSize(key, v));
    if (n > max) return Status::InvalidArgument("option " + key + "=" + v + " is too large");
    r.options.*field = static_cast<T>(n);
    return Status::Ok();
  };
}

Setter BoolSetter(bool format::CreateOptions::*field) {
  return [field](const std::string& key, const std::string& v, CreateRequest& r) -> Status {
    FVD_ASSIGN_OR_RETURN(r.options.*field, ParseBool(key, v));
    return Status::Ok();
  };
}

Setter StringSetter(std::string format::CreateOptions::*field) {
  return [field](const std::string&, const std::string& v, CreateRequest& r) -> Status {
    r.options.*field = v;
    return Status::Ok();
  };
}

// The option table, built per call: it is used once per command line, and a static would be
// process-wide state for no gain.
std::map<std::string, OptionSpec> Specs() {
  return {
      {"compact_image",
       {"on/off: allocate storage on demand through a chunk table",
        BoolSetter(&format::CreateOptions::compact_image)}},
      {"block_size",
       {"size: bytes per bitmap bit (default: automatic)",
        SizeSetter(&format::CreateOptions::block_size, UINT32_MAX)}},
      {"chunk_size",
       {"size: bytes per chunk of a compact image (default 1M)",
        SizeSetter(&format::CreateOptions::chunk_size, UINT64_MAX)}},
      {"storage_grow_unit",
       {"size: how much a compact image grows at a time (default 100M)",
        SizeSetter(&format::CreateOptions::storage_grow_unit, UINT64_MAX)}},
      {"add_storage_cmd",
       {"shell command that grows a block device holding a compact image; it gets "
        "FVD_DEVICE and FVD_NEW_SIZE (bytes) in its environment; builtin:lvextend runs lvextend",
        StringSetter(&format::CreateOptions::add_storage_cmd)}},
      {"data_file",
       {"path: keep the data in this separate file",
        StringSetter(&format::CreateOptions::data_file)}},
      {"data_file_fmt",
       {"format name of the data file", StringSetter(&format::CreateOptions::data_file_fmt)}},
      {"copy_on_read",
       {"on/off: copy blocks read from the base into the image",
        BoolSetter(&format::CreateOptions::copy_on_read)}},
      {"prefetch_start_delay",
       {"seconds: start whole-image prefetch this long after open (<= 0: never)",
        [](const std::string& key, const std::string& v, CreateRequest& r) -> Status {
          FVD_ASSIGN_OR_RETURN(r.options.prefetch_start_delay, ParseInt32(key, v));
          return Status::Ok();
        }}},
      {"detect_sparse_hole",
       {"on/off: mark all-zero base blocks as present at create",
        BoolSetter(&format::CreateOptions::detect_sparse_hole)}},
      {"journal_size",
       {"size: metadata journal size (default 16M; 0: no journal)",
        [](const std::string& key, const std::string& v, CreateRequest& r) -> Status {
          FVD_ASSIGN_OR_RETURN(uint64_t n, ParseSize(key, v));
          r.options.journal_size = n;
          return Status::Ok();
        }}},
      {"generate_prefetch_profile",
       {"on/off: record the order the guest first reads base blocks into the image's prefetch "
        "profile (reserves a region; see prefetch_profile_capacity)",
        BoolSetter(&format::CreateOptions::generate_prefetch_profile)}},
      {"prefetch_profile_capacity",
       {"count: entries the prefetch profile region holds (default 16384 when recording)",
        SizeSetter(&format::CreateOptions::prefetch_profile_capacity,
                   format::kMaxProfileCapacity)}},
      {"profile_directed_prefetch_start_delay",
       {"seconds: prefetch the stored profile's blocks this long after open (-1: never; "
        "default 0 with prefetch_profile_from)",
        [](const std::string& key, const std::string& v, CreateRequest& r) -> Status {
          FVD_ASSIGN_OR_RETURN(r.options.profile_directed_prefetch_start_delay, ParseInt32(key, v));
          return Status::Ok();
        }}},
      {"prefetch_profile_from",
       {"path: start with the prefetch profile stored in this FVD image (one created from the "
        "same base with generate_prefetch_profile=on, after a boot)",
        [](const std::string&, const std::string& v, CreateRequest& r) -> Status {
          r.prefetch_profile_from = v;
          return Status::Ok();
        }}},
  };
}

// Splits "a=1,b=x,,y" into ["a=1", "b=x,y"]: qemu's escaping of commas.
std::vector<std::string> SplitOptions(std::string_view text) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',' && i + 1 < text.size() && text[i + 1] == ',') {
      out.back() += ',';
      ++i;
    } else if (text[i] == ',') {
      out.emplace_back();
    } else {
      out.back() += text[i];
    }
  }
  return out;
}

}  // namespace

Status ApplyCreateOptions(std::string_view text, CreateRequest& request) {
  for (const std::string& item : SplitOptions(text)) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const auto specs = Specs();
    auto it = specs.find(key);
    if (it == specs.end()) {
      return Status::InvalidArgument("unknown option '" + key + "' (see 'fvd-img create --help')");
    }
    if (eq == std::string::npos) {
      return Status::InvalidArgument("option '" + key + "' needs a value (" + key + "=...)");
    }
    FVD_RETURN_IF_ERROR(it->second.set(key, item.substr(eq + 1), request));
  }
  return Status::Ok();
}

std::string CreateOptionsHelp() {
  std::string out = "Options for -o (key=value,...):\n";
  for (const auto& [key, spec] : Specs()) out += "  " + key + ": " + spec.help + "\n";
  return out;
}

}  // namespace fvd::img
