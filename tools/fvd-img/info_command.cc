// fvd-img info [--output=human|json] FILE
#include <sys/stat.h>

#include <iostream>

#include "core/image/image_file.h"
#include "tools/fvd-img/commands.h"
#include "tools/fvd-img/info_view.h"
#include "tools/host/posix_files.h"

namespace fvd::img {

using host::PosixFiles;
namespace {

struct InfoArgs {
  std::string output = "human";
  std::string filename;
};

Result<ImageFacts> ReadFacts(const std::string& filename) {
  FVD_ASSIGN_OR_RETURN(PosixFiles files, PosixFiles::Create());
  FVD_ASSIGN_OR_RETURN(auto image, files.Open(filename, OpenMode::kReadOnly));
  ImageFacts facts;
  facts.filename = filename;
  FVD_ASSIGN_OR_RETURN(facts.header, ReadImageHeader(*image, files.drive()));
  if (facts.header.data_file.empty()) facts.data_file_size = image->size();
  // A damaged profile is reported, not fatal: it only orders prefetching.
  auto profile = ReadStoredProfile(*image, files.drive(), facts.header);
  if (profile.ok()) {
    facts.profile_entries = profile->size();
  } else {
    facts.profile_problem = profile.status().message();
  }
  struct stat st {};
  if (::stat(filename.c_str(), &st) == 0)
    facts.actual_size = static_cast<uint64_t>(st.st_blocks) * 512;
  return facts;
}

}  // namespace

void AddInfoCommand(CLI::App& app, int& exit_code, const OpeningArgs& /*opening*/) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Show an FVD image's header and layout");
  cmd->add_option("--output", args->output, "Output format")
      ->check(CLI::IsMember({"human", "json"}));
  cmd->add_option("filename", args->filename, "Image file")->required();
  cmd->callback([args, &exit_code] {
    auto facts = ReadFacts(args->filename);
    if (!facts.ok()) {
      exit_code = Fail(args->filename + ": " + facts.status().ToString());
      return;
    }
    if (args->output == "json") {
      std::cout << InfoToJson(*facts).dump(4) << "\n";
    } else {
      std::cout << InfoToText(*facts);
    }
    exit_code = 0;
  });
}

}  // namespace fvd::img
