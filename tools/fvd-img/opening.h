// How fvd-img opens an image it did not make (global options, before or after the command):
//   --untrusted               the image may name only files in its own directory, no command
//   --allow-storage-cmd       run the header's add_storage_cmd when a block device must grow
//   --storage-cmd CMD         run this instead of the header's command
//   --max-metadata-memory N   the most memory an open may spend on metadata (default 1G)
// (tools/host/trust.h says what each refuses.)
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/image/image.h"
#include "tools/host/trust.h"

namespace fvd::img {

struct OpeningArgs {
  bool untrusted = false;
  bool allow_storage_cmd = false;
  std::string storage_cmd;
  std::string max_metadata_memory = "1G";

  host::TrustPolicy policy() const { return {untrusted, allow_storage_cmd, storage_cmd}; }
  // Sets `o`'s memory limit; fails naming the option if its size does not parse.
  Status ApplyTo(ImageOptions& o) const;
};

void AddOpeningOptions(CLI::App& app, OpeningArgs& a);

}  // namespace fvd::img
