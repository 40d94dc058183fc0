// Opening an FVD image file as the engine's Image, with its base image and data file, for the
// fvd-img commands that read or write guest data.
#pragma once

#include <memory>
#include <string>

#include "core/image/image.h"
#include "core/posix/file_device.h"
#include "tools/host/posix_files.h"
#include "tools/host/trust.h"

namespace fvd::host {

struct OpenedImage {
  std::unique_ptr<FileDevice> image_file;
  std::unique_ptr<FileDevice> data_file;  // null unless the header names one
  std::unique_ptr<BlockDevice> base_file;  // a file or a remote (NBD) base; null without a
                                           // base (or all data in the image)
  std::unique_ptr<Image> image;
};

// Opens `path` (its base and data file resolved relative to it, as qemu does, and checked
// against `policy`: trust.h) and runs Image::Open on them: recovery runs if the image was not
// closed cleanly and access is read-write. Errors name the file. An image that opens read-only
// against the caller's wish (a journal corrupt beyond replay: Image::open_warning) is named on
// stderr with the reason. Nothing is opened for writing before the policy's checks pass.
Result<OpenedImage> OpenImage(PosixFiles& files, const std::string& path,
                              const ImageOptions& options, const TrustPolicy& policy = {});

// The virtual disk size of the image file `path`, from its header alone: nothing is opened
// read-write and no recovery runs, so a command can check its ranges before anything writes.
Result<uint64_t> ReadDiskSize(PosixFiles& files, const std::string& path);

// Runs `task` on the files' event loop until it finishes.
template <typename T>
T RunTask(PosixFiles& files, Task<T> task) {
  std::optional<T> out;
  Detach(std::move(task), [&](T v) { out.emplace(std::move(v)); });
  files.loop().RunUntil([&] { return out.has_value(); });
  return std::move(*out);
}

}  // namespace fvd::host
