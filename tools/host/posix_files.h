// The real world for one fvd-img command: an event loop and the files it opens.
#pragma once

#include <memory>
#include <string>

#include "core/posix/event_loop.h"
#include "core/posix/file_device.h"
#include "core/remote/nbd_base_device.h"
#include "core/seam/random.h"
#include "core/seam/sync_io.h"

namespace fvd::host {

class PosixFiles {
 public:
  static Result<PosixFiles> Create();

  // Opens (or with `create`, creates) a file through the loop. Errors name the path.
  Result<std::unique_ptr<FileDevice>> Open(const std::string& path, OpenMode mode,
                                           bool create = false);
  // A base image: an NBD URI (remote::IsNbdUri) connects to that server, anything else opens
  // the file read-only. Errors name the file or URI.
  Result<std::unique_ptr<BlockDevice>> OpenBase(const std::string& name);
  // The longest a remote base may take to connect or to answer a read (NbdBaseOptions).
  void set_base_timeout(std::chrono::nanoseconds t) { base_timeout_ = t; }
  // Files opened from now on use O_DIRECT (cache=none) when `direct`.
  void set_direct(bool direct) { direct_ = direct; }
  // Files opened from now on use this I/O backend (io_uring, the thread pool, or either).
  void set_backend(IoBackend backend) { backend_ = backend; }
  // Files opened from now on write the page cache inline (FileDeviceOptions).
  void set_inline_cached_writes(bool v) { inline_cached_writes_ = v; }
  const LoopDriver& drive() const { return drive_; }
  PosixEventLoop& loop() { return *loop_; }
  // Seeded from the monotonic clock: the real world need not repeat itself.
  RandomSource& random() { return *random_; }

 private:
  std::unique_ptr<PosixEventLoop> loop_;
  std::unique_ptr<RandomSource> random_;
  LoopDriver drive_;
  bool direct_ = false;
  bool inline_cached_writes_ = false;
  IoBackend backend_ = IoBackend::kAuto;
  std::chrono::nanoseconds base_timeout_ = remote::NbdBaseOptions{}.timeout;
};

// `path` resolved the way qemu resolves a backing file: relative to the directory of `image`
// (an NBD URI stays as it is).
std::string ResolveRelativeTo(const std::string& image, const std::string& path);

}  // namespace fvd::host
