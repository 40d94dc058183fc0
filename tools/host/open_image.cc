#include "tools/host/open_image.h"

#include <cstdio>

#include "core/image/image_file.h"

namespace fvd::host {

Result<uint64_t> ReadDiskSize(PosixFiles& files, const std::string& path) {
  FVD_ASSIGN_OR_RETURN(auto file, files.Open(path, OpenMode::kReadOnly));
  FVD_ASSIGN_OR_RETURN(const format::Header h, ReadImageHeader(*file, files.drive()));
  return h.virtual_disk_size;
}

Result<OpenedImage> OpenImage(PosixFiles& files, const std::string& path,
                              const ImageOptions& options) {
  const OpenMode mode =
      options.access == AccessMode::kReadOnly ? OpenMode::kReadOnly : OpenMode::kReadWrite;
  OpenedImage out;
  FVD_ASSIGN_OR_RETURN(out.image_file, files.Open(path, mode));
  FVD_ASSIGN_OR_RETURN(const format::Header h, ReadImageHeader(*out.image_file, files.drive()));
  out.image_file->set_grow_command(h.add_storage_cmd);
  if (h.has_base() && !h.all_data_in_image()) {
    auto base = files.Open(ResolveRelativeTo(path, h.base_img), OpenMode::kReadOnly);
    if (!base.ok()) return base.status().WithContext("base image");
    out.base_file = std::move(*base);
  }
  if (!h.data_file.empty()) {
    auto data = files.Open(ResolveRelativeTo(path, h.data_file), mode);
    if (!data.ok()) return data.status().WithContext("data file");
    out.data_file = std::move(*data);
    out.data_file->set_grow_command(h.add_storage_cmd);
  }
  ImageEnv env{files.loop(), files.loop(), files.random()};
  ImageDevices devices{out.image_file.get(), out.data_file.get(), out.base_file.get()};
  FVD_ASSIGN_OR_RETURN(out.image, RunTask(files, Image::Open(env, devices, options)));
  if (!out.image->open_warning().empty()) {
    std::fprintf(stderr, "%s: warning: %s\n", path.c_str(), out.image->open_warning().c_str());
  }
  return out;
}

}  // namespace fvd::host
