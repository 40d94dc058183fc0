// fvd-img check [-r leaks|all] [--output=human|json] FILE, with qemu-img check's exit codes:
// 0 clean, 1 the check could not run, 2 corruption, 3 leaks only.
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/image/image_file.h"
#include "tools/fvd-img/commands.h"
#include "tools/host/open_image.h"

namespace fvd::img {

using host::OpenedImage;
using host::OpenImage;
using host::PosixFiles;
using host::RunTask;
namespace {

struct CheckArgs {
  std::string repair;
  std::string output = "human";
  std::string filename;
};

// Recovery is the repair: opening read-write replays the journal and writes the metadata back;
// closing marks the image clean. Leaked chunks stay and are reused by the next allocations. A
// journal corrupt beyond replay is discarded by `-r all` only (the writes recorded only there
// are lost); `-r leaks` leaves it and fails.
Status Repair(PosixFiles& files, const std::string& path, bool all, std::ostream& out,
              const OpeningArgs& opening) {
  ImageOptions options{.discard_unreplayable_journal = all};
  FVD_RETURN_IF_ERROR(opening.ApplyTo(options, files));
  FVD_ASSIGN_OR_RETURN(OpenedImage opened, OpenImage(files, path, options, opening.policy()));
  const ImageStats stats = opened.image->stats();
  const std::string journal_error = opened.image->journal_error();
  FVD_RETURN_IF_ERROR(RunTask(files, opened.image->Close()));
  if (stats.journal_unreplayable && !stats.journal_discarded) {
    return Status::Corruption("the journal is corrupt beyond replay (" + journal_error +
                              "); -r leaks leaves it alone: -r all discards it, losing the "
                              "writes recorded only there");
  }
  if (stats.journal_discarded) {
    out << "Repaired: discarded the journal, corrupt beyond replay (" << journal_error
        << "). The image keeps its bitmap and table as last written; writes recorded only in "
           "the journal are lost. Marked the image clean.\n";
  } else if (stats.recovered) {
    out << "Repaired: replayed " << stats.replayed_sectors << " journal sectors (skipped "
        << stats.skipped_sectors << " torn or stale) and marked the image clean.\n";
  } else {
    out << "Nothing to repair: the image was shut down cleanly.\n";
  }
  return Status::Ok();
}

void PrintHuman(const CheckReport& r, std::ostream& out) {
  if (r.journal_unreplayable) {
    out << "The image was not shut down cleanly, and its journal cannot be replayed (below): "
           "`-r all` discards it.\n";
  } else if (!r.clean_shutdown) {
    out << "The image was not shut down cleanly: " << r.replayed_sectors
        << " journal sectors replay at the next read-write open (" << r.skipped_sectors
        << " torn or stale sectors are ignored).\n";
  }
  for (const std::string& c : r.corruptions) out << "ERROR " << c << "\n";
  if (r.corrupt()) {
    out << r.corruptions.size() << " errors were found on the image.\n"
        << "Data may be corrupted, or further writes to the image may corrupt it.\n";
  }
  if (r.leaked_chunks > 0) {
    out << r.leaked_chunks << " leaked clusters were found on the image.\n"
        << "This means waste of disk space, but no harm to data; the next writes reuse them.\n";
  }
  if (!r.corrupt() && r.leaked_chunks == 0) out << "No errors were found on the image.\n";
  if (r.capacity_chunks > 0) {
    out << r.allocated_chunks << "/" << r.capacity_chunks
        << " chunks allocated in the data file.\n";
  }
}

// Findings that cost nothing but a feature: a damaged prefetch profile region is ignored at open
// (prefetching goes on without it), so it is named here without changing the exit code.
std::vector<std::string> Warnings(PosixFiles& files, const OpenedImage& opened) {
  std::vector<std::string> out;
  const format::Header& h = opened.image->header();
  auto profile = ReadStoredProfile(*opened.image_file, files.drive(), h);
  if (!profile.ok()) {
    out.push_back("prefetch profile region at byte " + std::to_string(h.prefetch_profile_offset) +
                  ": " + profile.status().message() +
                  " (ignored: the image prefetches without it)");
  }
  return out;
}

nlohmann::ordered_json ToJson(const std::string& filename, const CheckReport& r) {
  return {{"filename", filename},
          {"format", "fvd"},
          {"check-errors", 0},
          {"corruptions", r.corruptions.size()},
          {"corruption-details", r.corruptions},
          {"leaks", r.leaked_chunks},
          {"allocated-clusters", r.allocated_chunks},
          {"total-clusters", r.capacity_chunks},
          {"clean-shutdown", r.clean_shutdown},
          {"journal-replayed-sectors", r.replayed_sectors},
          {"journal-skipped-sectors", r.skipped_sectors},
          {"journal-unreplayable", r.journal_unreplayable}};
}

int RunCheck(const CheckArgs& a, const OpeningArgs& opening) {
  auto files = PosixFiles::Create();
  if (!files.ok()) return Fail(files.status().ToString());
  std::ostream& human = a.output == "json" ? std::cerr : std::cout;
  ImageOptions options{.access = AccessMode::kReadOnly};
  if (Status s = opening.ApplyTo(options, *files); !s.ok()) return Fail(s.message());
  if (!a.repair.empty()) {
    const Status s = Repair(*files, a.filename, a.repair == "all", human, opening);
    if (!s.ok()) return Fail(a.filename + ": repair failed: " + s.ToString());
  }
  auto opened = OpenImage(*files, a.filename, options, opening.policy());
  if (!opened.ok()) {
    const bool corrupt = opened.status().code() == StatusCode::kCorruption;
    CheckReport r;
    r.corruptions.push_back(opened.status().message());
    if (a.output == "json") std::cout << ToJson(a.filename, r).dump(4) << "\n";
    Fail(a.filename + ": " + opened.status().ToString());
    return corrupt ? 2 : 1;
  }
  const CheckReport r = opened->image->Check();
  const std::vector<std::string> warnings = Warnings(*files, *opened);
  if (a.output == "json") {
    auto j = ToJson(a.filename, r);
    j["warnings"] = warnings;
    std::cout << j.dump(4) << "\n";
  } else {
    for (const std::string& w : warnings) std::cout << "WARNING " << w << "\n";
    PrintHuman(r, std::cout);
  }
  return r.exit_code();
}

}  // namespace

void AddCheckCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "Check an FVD image's metadata for consistency");
  cmd->footer("Exit codes: 0 clean, 1 check failed to run, 2 corruption, 3 leaked chunks only.");
  cmd->add_option("-r", args->repair,
                  "Repair: replay the journal and mark the image clean; `all` also discards a "
                  "journal corrupt beyond replay")
      ->check(CLI::IsMember({"leaks", "all"}));
  cmd->add_option("--output", args->output, "Output format")
      ->check(CLI::IsMember({"human", "json"}));
  cmd->add_option("filename", args->filename, "Image file")->required();
  cmd->callback([args, &exit_code, &opening] { exit_code = RunCheck(*args, opening); });
}

}  // namespace fvd::img
