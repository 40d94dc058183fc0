#include "tools/host/posix_files.h"

#include <filesystem>

namespace fvd::host {

Result<PosixFiles> PosixFiles::Create() {
  PosixFiles files;
  FVD_ASSIGN_OR_RETURN(files.loop_, PosixEventLoop::Create());
  PosixEventLoop* loop = files.loop_.get();
  files.drive_ = [loop](const std::function<bool()>& done) { loop->RunUntil(done); };
  files.random_ = std::make_unique<PrngRandomSource>(
      static_cast<uint64_t>(loop->Now().time_since_epoch().count()));
  return files;
}

Result<std::unique_ptr<FileDevice>> PosixFiles::Open(const std::string& path, OpenMode mode,
                                                     bool create) {
  FileDeviceOptions opts;
  opts.mode = mode;
  opts.create = create;
  if (direct_) opts.cache = CacheMode::kDirect;
  opts.inline_cached_writes = inline_cached_writes_;
  opts.backend = backend_;
  return FileDevice::Open(*loop_, path, opts);
}

Result<std::unique_ptr<BlockDevice>> PosixFiles::OpenBase(const std::string& name) {
  if (remote::IsNbdUri(name)) {
    FVD_ASSIGN_OR_RETURN(auto dev, remote::NbdBaseDevice::Open(*loop_, name, {.timeout = base_timeout_}));
    return std::unique_ptr<BlockDevice>(std::move(dev));
  }
  FVD_ASSIGN_OR_RETURN(auto file, Open(name, OpenMode::kReadOnly));
  return std::unique_ptr<BlockDevice>(std::move(file));
}

std::string ResolveRelativeTo(const std::string& image, const std::string& path) {
  if (remote::IsNbdUri(path)) return path;
  const std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(image).parent_path() / p).lexically_normal().string();
}

}  // namespace fvd::host
