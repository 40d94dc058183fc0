#include "tools/host/open_image.h"

#include <cstdio>

#include "core/image/image_file.h"

namespace fvd::host {

Result<uint64_t> ReadDiskSize(PosixFiles& files, const std::string& path) {
  FVD_ASSIGN_OR_RETURN(auto file, files.Open(path, OpenMode::kReadOnly));
  FVD_ASSIGN_OR_RETURN(const format::Header h, ReadImageHeader(*file, files.drive()));
  return h.virtual_disk_size;
}

namespace {

void ApplyGrowPermission(FileDevice& dev, const GrowPermission& p) {
  if (!p.command.empty()) {
    dev.set_grow_command(p.command);
  } else if (!p.refusal.empty()) {
    dev.refuse_growth(p.refusal);
  }
}

}  // namespace

Result<OpenedImage> OpenImage(PosixFiles& files, const std::string& path,
                              const ImageOptions& options, const TrustPolicy& policy) {
  const OpenMode mode =
      options.access == AccessMode::kReadOnly ? OpenMode::kReadOnly : OpenMode::kReadWrite;
  // The header first, from a read-only open: the policy decides before anything is written.
  format::Header h;
  {
    FVD_ASSIGN_OR_RETURN(auto probe, files.Open(path, OpenMode::kReadOnly));
    FVD_ASSIGN_OR_RETURN(h, ReadImageHeader(*probe, files.drive()));
  }
  std::string base_path, data_path;
  if (h.has_base() && !h.all_data_in_image()) {
    FVD_ASSIGN_OR_RETURN(base_path, ResolveNamedFile(path, "base_img", h.base_img, policy));
  }
  if (!h.data_file.empty()) {
    FVD_ASSIGN_OR_RETURN(data_path, ResolveNamedFile(path, "data_file", h.data_file, policy));
  }
  const GrowPermission grow = GrowCommandFor(h, path, policy);
  OpenedImage out;
  FVD_ASSIGN_OR_RETURN(out.image_file, files.Open(path, mode));
  ApplyGrowPermission(*out.image_file, grow);
  if (!base_path.empty()) {
    auto base = files.OpenBase(base_path);
    if (!base.ok() && remote::IsNbdUri(base_path) && base.status().code() == StatusCode::kIoError) {
      // A remote base that is gone: the image still opens and serves what it holds.
      std::fprintf(stderr, "%s: warning: %s; reads of data still in the base fail with EIO\n",
                   path.c_str(), base.status().message().c_str());
      base = std::unique_ptr<BlockDevice>(remote::NbdBaseDevice::Unreachable(
          files.loop(), base_path, h.base_img_size, base.status().message()));
    }
    if (!base.ok()) return base.status().WithContext("base image");
    out.base_file = std::move(*base);
  }
  if (!data_path.empty()) {
    auto data = files.Open(data_path, mode);
    if (!data.ok()) return data.status().WithContext("data file");
    out.data_file = std::move(*data);
    ApplyGrowPermission(*out.data_file, grow);
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
