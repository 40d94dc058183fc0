// Creating an FVD image on real files from create options (FVD-FORMAT.md "Options"), as
// `fvd-img create` and the fio plugin do.
#pragma once

#include <string>

#include "core/format/layout.h"
#include "tools/host/posix_files.h"

namespace fvd::host {

// Creates the image `path` (and its data file, if the options name one). `options.base_img`
// is taken relative to the image's directory, as qemu does; its length is read from the file.
// With detect_sparse_hole the whole base is read first. Everything that can be checked
// (options, sizes, the base's existence) is checked before `path` is created or truncated.
// Returns the header written.
Result<format::Header> CreateImage(PosixFiles& files, const std::string& path,
                                   format::CreateOptions options);

}  // namespace fvd::host
