#include "tools/host/create_image.h"

#include <optional>

#include "core/format/constants.h"
#include "core/image/image_file.h"

namespace fvd::host {

Result<format::Header> CreateImage(PosixFiles& files, const std::string& path,
                                   format::CreateOptions options) {
  if (options.base_img.size() >= format::kBaseImgLen) {
    return Status::InvalidArgument("the base image's name is " +
                                   std::to_string(options.base_img.size()) +
                                   " bytes; an FVD header holds at most " +
                                   std::to_string(format::kBaseImgLen - 1));
  }
  const bool remote = remote::IsNbdUri(options.base_img);
  if (remote && !options.base_img_fmt.empty() && options.base_img_fmt != "nbd" &&
      options.base_img_fmt != "raw") {
    return Status::InvalidArgument("a base on an NBD server is read as raw bytes: format '" +
                                   options.base_img_fmt + "' cannot be used with '" +
                                   options.base_img + "'");
  }
  if (remote) options.base_img_fmt = "nbd";
  std::unique_ptr<BlockDevice> base;
  if (!options.base_img.empty()) {
    auto opened = files.OpenBase(ResolveRelativeTo(path, options.base_img));
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
