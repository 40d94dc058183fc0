#include "tools/fvd-img/info_view.h"

#include <sstream>
#include <type_traits>

#include "core/format/layout.h"
#include "core/util/units.h"

namespace fvd::img {

nlohmann::ordered_json HeaderToJson(const format::Header& h) {
  nlohmann::ordered_json j;
  format::ForEachHeaderField(h, [&](std::string_view name, size_t, size_t, const auto& value) {
    j[std::string(name)] = value;
  });
  j["data_offset"] = h.data_offset();
  j["table_size"] = h.table_entries() * 4;
  j["bitmap_bits"] = h.bitmap_bits();
  return j;
}

nlohmann::ordered_json InfoToJson(const ImageFacts& f) {
  const format::Header& h = f.header;
  nlohmann::ordered_json j;
  j["virtual-size"] = h.virtual_disk_size;
  j["filename"] = f.filename;
  j["format"] = "fvd";
  j["actual-size"] = f.actual_size;
  j["dirty-flag"] = !h.clean_shutdown;
  if (h.has_base()) {
    j["backing-filename"] = h.base_img;
    if (!h.base_img_fmt.empty()) j["backing-filename-format"] = h.base_img_fmt;
  }
  if (h.compact_image) j["cluster-size"] = h.chunk_size;
  j["format-specific"] = {{"type", "fvd"}, {"data", HeaderToJson(h)}};
  const format::MetadataMemory need = format::MetadataMemoryOf(h, f.data_file_size);
  j["format-specific"]["memory-to-open"] = {{"total", need.total()},     {"bitmap", need.bitmap},
                                            {"table", need.table},       {"journal", need.journal},
                                            {"profile", need.profile},
                                            {"allocator", need.allocator}};
  if (h.prefetch_profile_entries > 0) {
    j["format-specific"]["prefetch-profile"] = {{"capacity", h.prefetch_profile_entries},
                                                {"entries", f.profile_entries}};
    if (!f.profile_problem.empty())
      j["format-specific"]["prefetch-profile"]["problem"] = f.profile_problem;
  }
  return j;
}

std::string InfoToText(const ImageFacts& f) {
  const format::Header& h = f.header;
  std::ostringstream out;
  out << "image: " << f.filename << "\n"
      << "file format: fvd\n"
      << "virtual size: " << FormatByteSize(h.virtual_disk_size) << " (" << h.virtual_disk_size
      << " bytes)\n"
      << "disk size: " << FormatByteSize(f.actual_size) << "\n";
  if (h.compact_image) out << "cluster_size: " << h.chunk_size << "\n";
  if (h.has_base()) out << "backing file: " << h.base_img << "\n";
  if (!h.base_img_fmt.empty()) out << "backing file format: " << h.base_img_fmt << "\n";
  out << "Format specific information:\n"
      << "    version: " << h.version << "\n"
      << "    clean shutdown: " << (h.clean_shutdown ? "true" : "false") << "\n"
      << "    all data in image: "
      << (h.all_data_in_fvd_img ? "true"
          : h.self_contained    ? "true (whole-image prefetch finished)"
                                : "false")
      << "\n";
  if (h.has_base()) {
    out << "    base size: " << h.base_img_size << "\n"
        << "    block size: " << h.block_size << "\n"
        << "    bitmap: offset " << h.bitmap_offset << ", size " << h.bitmap_size << "\n";
  }
  if (h.compact_image) {
    out << "    compact image: chunk size " << h.chunk_size << ", table offset " << h.table_offset
        << ", " << h.table_entries() << " entries\n";
  }
  if (h.has_journal()) {
    out << "    journal: offset " << h.journal_offset << ", size " << h.journal_size << ", epoch "
        << h.journal_epoch << "\n";
  } else {
    out << "    journal: none (metadata written in place)\n";
  }
  if (!h.data_file.empty()) out << "    data file: " << h.data_file << "\n";
  out << "    data offset: " << h.data_offset() << "\n"
      << "    copy on read: " << (h.copy_on_read ? "on" : "off") << "\n"
      << "    prefetch start delay: " << h.prefetch_start_delay << " s\n";
  if (h.prefetch_profile_entries > 0) {
    out << "    prefetch profile: " << f.profile_entries << " of " << h.prefetch_profile_entries
        << " entries" << (h.generate_prefetch_profile ? ", recording" : "")
        << (f.profile_problem.empty() ? "" : " (" + f.profile_problem + ")") << ", followed "
        << h.profile_directed_prefetch_start_delay << " s after open\n";
  }
  if (!h.add_storage_cmd.empty()) {
    out << "    add_storage_cmd: '" << h.add_storage_cmd
        << "' (runs only when the opener allows it: --allow-storage-cmd)\n";
  }
  const format::MetadataMemory need = format::MetadataMemoryOf(h, f.data_file_size);
  out << "    memory to open: " << FormatByteSize(need.total()) << " (" << need.Describe()
      << ")\n";
  return out.str();
}

}  // namespace fvd::img
