// The -o key=value,... options of `fvd-img create`, as qemu-img takes them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/format/layout.h"
#include "core/util/status.h"

namespace fvd::img {

// What the -o options ask for: the new image's layout options, and an image whose stored
// prefetch profile the new one starts with.
struct CreateRequest {
  format::CreateOptions options;
  std::string prefetch_profile_from;
};

// Applies "key=value,key=value" to `request`. Keys: compact_image, block_size, chunk_size,
// storage_grow_unit, add_storage_cmd, data_file, data_file_fmt, copy_on_read,
// prefetch_start_delay, detect_sparse_hole, journal_size, generate_prefetch_profile,
// prefetch_profile_capacity, profile_directed_prefetch_start_delay, prefetch_profile_from.
// Sizes take suffixes (64M); booleans are on/off/true/false/yes/no/1/0. A comma inside a value
// is written ",,". Errors name the key and value.
Status ApplyCreateOptions(std::string_view text, CreateRequest& request);

// The keys ApplyCreateOptions knows, with a one-line description each (for --help).
std::string CreateOptionsHelp();

}  // namespace fvd::img
