// fvd-img create [-f fvd] [-b base [-F fmt]] [-o key=value,...] [-q] FILE [SIZE]
#include <iostream>
#include <optional>

#include "core/format/layout.h"
#include "core/image/image_file.h"
#include "core/util/units.h"
#include "tools/fvd-img/commands.h"
#include "tools/fvd-img/create_options.h"
#include "tools/fvd-img/posix_files.h"

namespace fvd::img {
namespace {

struct CreateArgs {
  std::string format = "fvd";
  std::string base;
  std::string base_format;
  std::vector<std::string> options;
  bool quiet = false;
  std::string filename;
  std::string size;
};

struct Planned {
  format::CreateOptions options;
  format::Header header;
};

// Everything that can be checked without writing: options, size, base image length. Nothing
// is created or truncated before this succeeds.
Result<Planned> Plan(const CreateArgs& a, PosixFiles& files) {
  if (a.format != "fvd") {
    return Status::InvalidArgument("format '" + a.format + "' is not supported (only fvd)");
  }
  format::CreateOptions o;
  for (const std::string& text : a.options) FVD_RETURN_IF_ERROR(ApplyCreateOptions(text, o));
  if (!a.size.empty()) {
    FVD_ASSIGN_OR_RETURN(o.virtual_size, ParseByteSize(a.size));
  } else if (a.base.empty()) {
    return Status::InvalidArgument("image size is required without a base image (-b)");
  }
  if (!a.base.empty()) {
    const std::string base_path = ResolveRelativeTo(a.filename, a.base);
    auto base = files.Open(base_path, OpenMode::kReadOnly);
    if (!base.ok()) return base.status().WithContext("base image");
    o.base_img = a.base;
    o.base_img_fmt = a.base_format;
    o.base_img_length = (*base)->size();
  }
  FVD_ASSIGN_OR_RETURN(format::Header h, format::PlanImage(o));
  return Planned{std::move(o), std::move(h)};
}

Status Create(const CreateArgs& a) {
  FVD_ASSIGN_OR_RETURN(PosixFiles files, PosixFiles::Create());
  FVD_ASSIGN_OR_RETURN(const Planned plan, Plan(a, files));
  const format::Header& h = plan.header;
  FVD_ASSIGN_OR_RETURN(auto image, files.Open(a.filename, OpenMode::kReadWrite, /*create=*/true));
  image->set_grow_command(h.add_storage_cmd);
  std::unique_ptr<FileDevice> data;
  if (!h.data_file.empty()) {
    FVD_ASSIGN_OR_RETURN(data, files.Open(ResolveRelativeTo(a.filename, h.data_file),
                                          OpenMode::kReadWrite, /*create=*/true));
    data->set_grow_command(h.add_storage_cmd);
  }
  std::optional<format::Bitmap> zero_blocks;
  if (plan.options.detect_sparse_hole) {
    FVD_ASSIGN_OR_RETURN(auto base, files.Open(ResolveRelativeTo(a.filename, a.base),
                                               OpenMode::kReadOnly));
    FVD_ASSIGN_OR_RETURN(zero_blocks, FindZeroBlocks(*base, files.drive(), h));
  }
  FVD_RETURN_IF_ERROR(WriteNewImage(*image, data.get(), files.drive(), h,
                                    zero_blocks ? &*zero_blocks : nullptr));
  if (!a.quiet) {
    std::cout << "Formatting '" << a.filename << "', fmt=fvd size=" << h.virtual_disk_size;
    if (h.has_base()) std::cout << " backing_file=" << h.base_img;
    if (h.compact_image) std::cout << " compact_image=on chunk_size=" << h.chunk_size;
    std::cout << "\n";
  }
  return Status::Ok();
}

}  // namespace

void AddCreateCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CreateArgs>();
  CLI::App* cmd = app.add_subcommand("create", "Create a new FVD image");
  cmd->footer(CreateOptionsHelp());
  cmd->add_option("-f", args->format, "Image format (only fvd)");
  cmd->add_option("-b", args->base, "Base (backing) image; a relative path is relative to FILE");
  cmd->add_option("-F", args->base_format, "Format of the base image (default: probe)");
  cmd->add_option("-o", args->options, "Options key=value,... (listed below); may repeat")
      ->allow_extra_args(false);
  cmd->add_flag("-q", args->quiet, "Quiet: print nothing on success");
  cmd->add_option("filename", args->filename, "Image file to create")->required();
  cmd->add_option("size", args->size, "Virtual size (64M, 10G, ...); default: the base's size");
  cmd->callback([args, &exit_code] {
    const Status s = Create(*args);
    exit_code = s.ok() ? 0 : Fail(args->filename + ": " + s.ToString());
  });
}

}  // namespace fvd::img
