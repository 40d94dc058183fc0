// fvd-img update FILE key=value ...: change header attributes (FVD-FORMAT.md "Options").
#include <iostream>

#include "core/format/layout.h"
#include "core/image/image_file.h"
#include "tools/fvd-img/commands.h"
#include "tools/fvd-img/update_options.h"
#include "tools/host/posix_files.h"

namespace fvd::img {

using host::PosixFiles;
namespace {

struct UpdateArgs {
  std::string filename;
  std::vector<std::string> assignments;
};

bool OverridesCleanShutdown(const std::vector<std::string>& assignments) {
  for (const std::string& a : assignments) {
    if (a.rfind("clean_shutdown=", 0) == 0) return true;
  }
  return false;
}

Status Update(const UpdateArgs& a, const OpeningArgs& opening) {
  FVD_ASSIGN_OR_RETURN(PosixFiles files, PosixFiles::Create());
  FVD_ASSIGN_OR_RETURN(auto image, files.Open(a.filename, OpenMode::kReadWrite));
  FVD_ASSIGN_OR_RETURN(format::Header h, ReadImageHeader(*image, files.drive()));
  if (!h.clean_shutdown && !OverridesCleanShutdown(a.assignments)) {
    return Status::InvalidArgument(
        "the image was not shut down cleanly: recover it first ('fvd-img check -r all'), or "
        "override with clean_shutdown=on");
  }
  format::Header updated = h;
  FVD_RETURN_IF_ERROR(ApplyUpdates(a.assignments, updated));
  // A non-compact image keeps its data area as long as the disk: grow the file with it.
  std::unique_ptr<FileDevice> data;
  BlockDevice* data_dev = image.get();
  if (!updated.data_file.empty()) {
    FVD_ASSIGN_OR_RETURN(const std::string data_path,
                         host::ResolveNamedFile(a.filename, "data_file", updated.data_file,
                                                opening.policy()));
    FVD_ASSIGN_OR_RETURN(data, files.Open(data_path, OpenMode::kReadWrite));
    data_dev = data.get();
  }
  const uint64_t needed = updated.data_offset() + updated.virtual_disk_size;
  const bool grow = !updated.compact_image && updated.virtual_disk_size > h.virtual_disk_size &&
                    data_dev->size() < needed;
  const uint64_t image_size = grow && data_dev == image.get() ? needed : image->size();
  FVD_RETURN_IF_ERROR(format::ValidateHeader(updated, image_size));
  FVD_ASSIGN_OR_RETURN(const auto bytes, format::EncodeHeader(updated));
  if (grow) FVD_RETURN_IF_ERROR(SyncResize(*data_dev, files.drive(), needed));
  FVD_RETURN_IF_ERROR(SyncWrite(*image, files.drive(), 0, bytes));
  return SyncFlush(*image, files.drive());
}

}  // namespace

void AddUpdateCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening) {
  auto args = std::make_shared<UpdateArgs>();
  CLI::App* cmd = app.add_subcommand("update", "Change attributes in an FVD image's header");
  cmd->footer(UpdateKeysHelp());
  cmd->add_option("filename", args->filename, "Image file")->required();
  cmd->add_option("assignments", args->assignments, "key=value ...")->required();
  cmd->callback([args, &exit_code, &opening] {
    const Status s = Update(*args, opening);
    exit_code = s.ok() ? 0 : Fail(args->filename + ": " + s.ToString());
  });
}

}  // namespace fvd::img
