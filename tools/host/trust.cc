#include "tools/host/trust.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tools/host/posix_files.h"

namespace fvd::host {
namespace {

namespace fs = std::filesystem;

Status Refuse(std::string_view field, const std::string& name, const std::string& why) {
  return Status::Refused("the image's " + std::string(field) + " '" + name + "' " + why +
                         " (an untrusted image may name only regular files in its own "
                         "directory)");
}

bool Inside(const fs::path& dir, const fs::path& p) {
  auto d = dir.begin(), q = p.begin();
  for (; d != dir.end(); ++d, ++q) {
    if (q == p.end() || *d != *q) return false;
  }
  return true;
}

// The checks of untrusted mode on the name as written and on what it leads to.
Status CheckUntrusted(const std::string& image_path, std::string_view field,
                      const std::string& name) {
  if (name.find("://") != std::string::npos || name.rfind("nbd:", 0) == 0 ||
      name.rfind("nbd+", 0) == 0) {
    return Refuse(field, name, "is a remote URI");
  }
  const fs::path written(name);
  if (written.is_absolute()) return Refuse(field, name, "is an absolute path");
  for (const fs::path& part : written) {
    if (part == "..") return Refuse(field, name, "climbs out with '..'");
  }
  std::error_code ec;
  const fs::path dir = fs::canonical(fs::absolute(image_path).parent_path(), ec);
  if (ec) return Status::IoError("cannot resolve the directory of '" + image_path + "': " + ec.message());
  const fs::path target = dir / written;
  struct stat st {};
  if (::lstat(target.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::NotFound("the image's " + std::string(field) + " '" + name +
                                              "' does not exist")
                           : Status::IoError("'" + target.string() + "': " + std::strerror(errno));
  }
  const fs::path real = fs::canonical(target, ec);
  if (ec) return Refuse(field, name, "cannot be resolved (" + ec.message() + ")");
  if (!Inside(dir, real)) return Refuse(field, name, "leads out of the image's directory, to " + real.string());
  if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    const char* what = S_ISBLK(st.st_mode)    ? "is a block device"
                       : S_ISCHR(st.st_mode)  ? "is a character device"
                       : S_ISFIFO(st.st_mode) ? "is a fifo"
                       : S_ISSOCK(st.st_mode) ? "is a socket"
                       : S_ISDIR(st.st_mode)  ? "is a directory"
                                              : "is not a regular file";
    return Refuse(field, name, what);
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ResolveNamedFile(const std::string& image_path, std::string_view field,
                                     const std::string& name, const TrustPolicy& policy) {
  if (policy.untrusted) FVD_RETURN_IF_ERROR(CheckUntrusted(image_path, field, name));
  return ResolveRelativeTo(image_path, name);
}

GrowPermission GrowCommandFor(const format::Header& h, const std::string& image_path,
                              const TrustPolicy& policy) {
  if (!policy.storage_cmd.empty()) return {policy.storage_cmd, ""};
  if (h.add_storage_cmd.empty()) return {"", ""};
  const std::string named = "image '" + image_path + "' names add_storage_cmd '" +
                            h.add_storage_cmd + "' to grow its device";
  if (policy.untrusted) {
    return {"", named + ", and an untrusted image never runs a command (give the host's own: "
                        "--storage-cmd, storage_cmd=, fvd_storage_cmd)"};
  }
  if (policy.allow_storage_cmd) return {h.add_storage_cmd, ""};
  return {"", named + "; it runs only when allowed (fvd-img --allow-storage-cmd, nbdkit "
                      "allow_storage_cmd=true, fio --fvd_allow_storage_cmd=1), or give a command "
                      "of the host's own instead (--storage-cmd, storage_cmd=, fvd_storage_cmd)"};
}

}  // namespace fvd::host
