// fvd-img create [-f fvd] [-b base [-F fmt]] [-o key=value,...] [-q] FILE [SIZE]
#include <iostream>

#include "core/format/layout.h"
#include "core/util/units.h"
#include "tools/fvd-img/commands.h"
#include "tools/fvd-img/create_options.h"
#include "tools/host/create_image.h"
#include "tools/host/posix_files.h"

namespace fvd::img {

using host::PosixFiles;
using host::ResolveRelativeTo;
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

// The options from the command line. Nothing is created before they all check out.
Result<format::CreateOptions> Options(const CreateArgs& a) {
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
  o.base_img = a.base;
  o.base_img_fmt = a.base_format;
  return o;
}

Status Create(const CreateArgs& a) {
  FVD_ASSIGN_OR_RETURN(PosixFiles files, PosixFiles::Create());
  FVD_ASSIGN_OR_RETURN(const format::CreateOptions options, Options(a));
  FVD_ASSIGN_OR_RETURN(const format::Header h, host::CreateImage(files, a.filename, options));
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
