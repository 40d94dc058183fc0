// fvd-img create [-f fvd] [-b base [-F fmt]] [-o key=value,...] [-q] FILE [SIZE]
#include <iostream>

#include "core/format/layout.h"
#include "core/image/image_file.h"
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
Result<CreateRequest> Request(const CreateArgs& a) {
  if (a.format != "fvd") {
    return Status::InvalidArgument("format '" + a.format + "' is not supported (only fvd)");
  }
  CreateRequest r;
  for (const std::string& text : a.options) FVD_RETURN_IF_ERROR(ApplyCreateOptions(text, r));
  if (!a.size.empty()) {
    FVD_ASSIGN_OR_RETURN(r.options.virtual_size, ParseByteSize(a.size));
  } else if (a.base.empty()) {
    return Status::InvalidArgument("image size is required without a base image (-b)");
  }
  r.options.base_img = a.base;
  r.options.base_img_fmt = a.base_format;
  return r;
}

// prefetch_profile_from: the profile stored in another image, and room for it in this one.
Result<std::vector<format::ProfileEntry>> ProfileFrom(PosixFiles& files, const std::string& path,
                                                      format::CreateOptions& o) {
  FVD_ASSIGN_OR_RETURN(auto file, files.Open(path, OpenMode::kReadOnly));
  FVD_ASSIGN_OR_RETURN(const format::Header h, ReadImageHeader(*file, files.drive()));
  FVD_ASSIGN_OR_RETURN(auto entries, ReadStoredProfile(*file, files.drive(), h));
  if (entries.empty()) {
    return Status::InvalidArgument(
        "holds no prefetch profile (create it with -o generate_prefetch_profile=on and boot "
        "from it first)");
  }
  if (o.prefetch_profile_capacity < entries.size()) o.prefetch_profile_capacity = entries.size();
  if (o.profile_directed_prefetch_start_delay < 0) o.profile_directed_prefetch_start_delay = 0;
  return entries;
}

Status Create(const CreateArgs& a) {
  FVD_ASSIGN_OR_RETURN(PosixFiles files, PosixFiles::Create());
  FVD_ASSIGN_OR_RETURN(CreateRequest request, Request(a));
  std::vector<format::ProfileEntry> profile;
  if (!request.prefetch_profile_from.empty()) {
    auto from = ProfileFrom(files, request.prefetch_profile_from, request.options);
    if (!from.ok())
      return from.status().WithContext("prefetch_profile_from " + request.prefetch_profile_from);
    profile = std::move(*from);
  }
  FVD_ASSIGN_OR_RETURN(const format::Header h,
                       host::CreateImage(files, a.filename, request.options));
  if (!profile.empty()) {
    FVD_ASSIGN_OR_RETURN(auto file, files.Open(a.filename, OpenMode::kReadWrite));
    FVD_RETURN_IF_ERROR(WriteStoredProfile(*file, files.drive(), h, profile));
  }
  if (!a.quiet) {
    std::cout << "Formatting '" << a.filename << "', fmt=fvd size=" << h.virtual_disk_size;
    if (h.has_base()) std::cout << " backing_file=" << h.base_img;
    if (h.compact_image) std::cout << " compact_image=on chunk_size=" << h.chunk_size;
    if (!profile.empty()) std::cout << " prefetch_profile_entries=" << profile.size();
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
