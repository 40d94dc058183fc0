// fvd-img map [--output=human|json] FILE: where each part of the virtual disk is, in
// qemu-img map's layouts. Depth 0 is the image (or nowhere: reads zeros), depth 1 the base.
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/fvd-img/commands.h"
#include "tools/host/open_image.h"

namespace fvd::img {

using host::OpenImage;
using host::PosixFiles;
using host::ResolveRelativeTo;
namespace {

struct MapArgs {
  std::string output = "human";
  std::string filename;
};

// The files extents live in, named as qemu-img map names them: resolved like the image does.
struct MapFiles {
  std::string image_data;  // where kImage extents are: the data file, or the image itself
  std::string base;
};

MapFiles FilesOf(const std::string& path, const format::Header& h) {
  MapFiles f;
  f.image_data = h.data_file.empty() ? path : ResolveRelativeTo(path, h.data_file);
  if (h.has_base()) f.base = ResolveRelativeTo(path, h.base_img);
  return f;
}

// qemu-img's "%#-16" PRIx64 column.
std::string Column(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#-16" PRIx64, v);
  return buf;
}

// Only extents with data, like qemu-img map: reads of the others return zeros.
void PrintHuman(const std::vector<MapExtent>& extents, const MapFiles& files) {
  std::cout << "Offset          Length          Mapped to       File\n";
  for (const MapExtent& e : extents) {
    if (e.where == MapExtent::Where::kNowhere) continue;
    const bool in_image = e.where == MapExtent::Where::kImage;
    // A raw base holds guest offset X at its own offset X.
    std::cout << Column(e.offset) << Column(e.length) << Column(in_image ? e.physical : e.offset)
              << (in_image ? files.image_data : files.base) << "\n";
  }
}

nlohmann::ordered_json ExtentToJson(const MapExtent& e) {
  const bool data = e.where != MapExtent::Where::kNowhere;
  nlohmann::ordered_json j = {{"start", e.offset},
                              {"length", e.length},
                              {"depth", e.where == MapExtent::Where::kBase ? 1 : 0},
                              {"present", data},
                              {"zero", !data},
                              {"data", data}};
  if (e.where == MapExtent::Where::kImage) j["offset"] = e.physical;
  return j;
}

// One extent per line, as qemu-img prints them (still a single JSON array).
void PrintJson(const std::vector<MapExtent>& extents) {
  std::cout << "[";
  for (size_t i = 0; i < extents.size(); ++i) {
    std::cout << (i == 0 ? "" : ",\n") << ExtentToJson(extents[i]).dump();
  }
  std::cout << "]\n";
}

int RunMap(const MapArgs& a, const OpeningArgs& opening) {
  auto files = PosixFiles::Create();
  if (!files.ok()) return Fail(files.status().ToString());
  ImageOptions options{.access = AccessMode::kReadOnly};
  if (Status s = opening.ApplyTo(options, *files); !s.ok()) return Fail(s.message());
  auto opened = OpenImage(*files, a.filename, options, opening.policy());
  if (!opened.ok()) return Fail(a.filename + ": " + opened.status().ToString());
  const Image& image = *opened->image;
  const std::vector<MapExtent> extents = image.Map(0, image.size());
  if (a.output == "json") {
    PrintJson(extents);
  } else {
    PrintHuman(extents, FilesOf(a.filename, image.header()));
  }
  return 0;
}

}  // namespace

void AddMapCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening) {
  auto args = std::make_shared<MapArgs>();
  CLI::App* cmd = app.add_subcommand("map", "Show where the data of an FVD image is");
  cmd->add_option("--output", args->output, "Output format")
      ->check(CLI::IsMember({"human", "json"}));
  cmd->add_option("filename", args->filename, "Image file")->required();
  cmd->callback([args, &exit_code, &opening] { exit_code = RunMap(*args, opening); });
}

}  // namespace fvd::img
