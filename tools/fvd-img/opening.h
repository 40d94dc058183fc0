// How fvd-img opens an image it did not make (global options, before or after the command):
//   --untrusted               the image may name only files in its own directory, no command
//   --allow-storage-cmd       run the header's add_storage_cmd when a block device must grow
//   --storage-cmd CMD         run this instead of the header's command
//   --max-metadata-memory N   the most memory an open may spend on metadata (default 1G)
//   --base-timeout SECONDS    the longest a remote (NBD) base may take to answer (default 30)
// (tools/host/trust.h says what each refuses.)
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/image/image.h"
#include "tools/host/posix_files.h"
#include "tools/host/trust.h"

namespace fvd::img {

struct OpeningArgs {
  bool untrusted = false;
  bool allow_storage_cmd = false;
  std::string storage_cmd;
  std::string max_metadata_memory = "1G";
  double base_timeout_s = 30;

  host::TrustPolicy policy() const { return {untrusted, allow_storage_cmd, storage_cmd}; }
  // Sets `o`'s memory limit and the files' remote-base timeout; fails naming the option if its
  // size does not parse.
  Status ApplyTo(ImageOptions& o, host::PosixFiles& files) const;
};

void AddOpeningOptions(CLI::App& app, OpeningArgs& a);

}  // namespace fvd::img
