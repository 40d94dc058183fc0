// What `fvd-img info` shows of an image: as JSON (qemu-img's keys, plus every header field under
// format-specific) and as qemu-img-style text.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/format/header.h"

namespace fvd::img {

struct ImageFacts {
  std::string filename;
  uint64_t actual_size = 0;  // bytes allocated on the host
  // The size of the file holding the data when it is the image itself (info opens no other
  // file), for the chunk allocator's share of the memory an open needs.
  uint64_t data_file_size = 0;
  format::Header header;
  // The stored prefetch profile, when the image has a region: entries recorded, or why the
  // region cannot be read.
  uint64_t profile_entries = 0;
  std::string profile_problem;
};

// Every on-disk header field by its name, plus the derived layout (data_offset, table size).
nlohmann::ordered_json HeaderToJson(const format::Header& h);
nlohmann::ordered_json InfoToJson(const ImageFacts& facts);
std::string InfoToText(const ImageFacts& facts);

}  // namespace fvd::img
