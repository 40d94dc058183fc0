// What an image's header may make this host do. Clouds open images they did not make, and a
// header names files (its base and data file) and a shell command (add_storage_cmd, run to grow
// a block device): to the opener these are requests, not orders, as in QEMU's handling of
// backing files. Every tool and plugin that opens images takes a TrustPolicy.
//
//   - The header's command runs only when the opener allows it (allow_storage_cmd), or the
//     opener gives a command of its own (storage_cmd), which then runs instead. Otherwise a
//     block device that must grow fails the write with kRefused, naming the command, the image
//     and how to allow it.
//   - Untrusted: the header may name only files inside the image's own directory (relative,
//     no "..", no symlink leading out, regular files only: no devices, fifos or sockets, no
//     URIs), and never a command (allow_storage_cmd cannot override that; storage_cmd can).
//     Each refusal is kRefused naming the header field and its value, before anything is
//     opened for writing.
#pragma once

#include <string>
#include <string_view>

#include "core/format/header.h"
#include "core/util/status.h"

namespace fvd::host {

struct TrustPolicy {
  bool untrusted = false;
  bool allow_storage_cmd = false;
  std::string storage_cmd;  // the host's own command; wins over the header's when not empty
};

// The path of the file the header's `field` ("base_img", "data_file") names, resolved relative
// to the image at `image_path`, or kRefused when the policy does not allow it.
Result<std::string> ResolveNamedFile(const std::string& image_path, std::string_view field,
                                     const std::string& name, const TrustPolicy& policy);

// What a device of the image may run to grow: a command, or (command empty) why it may not.
struct GrowPermission {
  std::string command;
  std::string refusal;
};
GrowPermission GrowCommandFor(const format::Header& h, const std::string& image_path,
                              const TrustPolicy& policy);

}  // namespace fvd::host
