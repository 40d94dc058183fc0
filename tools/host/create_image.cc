#include "tools/host/create_image.h"

#include <optional>

#include "core/image/image_file.h"

namespace fvd::host {

Result<format::Header> CreateImage(PosixFiles& files, const std::string& path,
                                   format::CreateOptions options) {
  std::unique_ptr<FileDevice> base;
  if (!options.base_img.empty()) {
    auto opened = files.Open(ResolveRelativeTo(path, options.base_img), OpenMode::kReadOnly);
    if (!opened.ok()) return opened.status().WithContext("base image");
    base = std::move(*opened);
    options.base_img_length = base->size();
  }
  FVD_ASSIGN_OR_RETURN(const format::Header h, format::PlanImage(options));
  FVD_ASSIGN_OR_RETURN(auto image, files.Open(path, OpenMode::kReadWrite, /*create=*/true));
  image->set_grow_command(h.add_storage_cmd);
  std::unique_ptr<FileDevice> data;
  if (!h.data_file.empty()) {
    FVD_ASSIGN_OR_RETURN(data, files.Open(ResolveRelativeTo(path, h.data_file),
                                          OpenMode::kReadWrite, /*create=*/true));
    data->set_grow_command(h.add_storage_cmd);
  }
  std::optional<format::Bitmap> zero_blocks;
  if (options.detect_sparse_hole) {
    FVD_ASSIGN_OR_RETURN(zero_blocks, FindZeroBlocks(*base, files.drive(), h));
  }
  FVD_RETURN_IF_ERROR(
      WriteNewImage(*image, data.get(), files.drive(), h, zero_blocks ? &*zero_blocks : nullptr));
  return h;
}

}  // namespace fvd::host
