// A BlockDevice over a POSIX file or block device, asynchronous: io_uring (liburing) when the
// kernel allows it, otherwise a small thread pool doing pread/pwrite/fdatasync. Completions
// run on the PosixEventLoop thread, never inline from Submit*. Flush is fdatasync; kFua writes
// are followed by an fdatasync before completing (or use RWF_DSYNC with io_uring).
#pragma once

#include <memory>
#include <string>

#include "core/posix/event_loop.h"
#include "core/seam/block_device.h"

namespace fvd {

enum class OpenMode { kReadOnly, kReadWrite };
enum class CacheMode {
  kBuffered,  // through the page cache (cache=writeback)
  kDirect,    // O_DIRECT: offsets, lengths and buffers aligned to alignment()
};
enum class IoBackend {
  kAuto,        // io_uring if the kernel allows it, else the thread pool
  kIoUring,     // io_uring or fail
  kThreadPool,  // always the thread pool
};

struct FileDeviceOptions {
  OpenMode mode = OpenMode::kReadWrite;
  CacheMode cache = CacheMode::kBuffered;
  IoBackend backend = IoBackend::kAuto;
  bool create = false;         // create the file if missing (mode 0644)
  unsigned queue_depth = 128;  // io_uring entries / max operations in flight
  unsigned pool_threads = 4;   // thread-pool size when it is used
  // Page-cache reads and writes are first tried in place with RWF_NOWAIT; only what would
  // block goes to the backend (the completion still comes from the loop).
  bool try_without_blocking = true;
  // Where the filesystem cannot write the page cache without blocking (ext4), do cached
  // writes right here, blocking the loop for the copy, as a synchronous engine would: far
  // cheaper than a kernel worker thread per write, but the loop waits if the kernel throttles
  // dirty pages. For single-purpose loops (the fio plugin); off by default.
  bool inline_cached_writes = false;
  // Block devices: the add_storage_cmd run when a resize must grow the device (grow_command.h).
  // Regular files grow by ftruncate and ignore it.
  std::string grow_command;
};

class FileDevice final : public BlockDevice {
 public:
  // Opens `path`. Errors name the path and errno text (kNotFound for a missing file).
  // The device must be destroyed before `loop`, and after every submitted operation completed.
  static Result<std::unique_ptr<FileDevice>> Open(PosixEventLoop& loop, const std::string& path,
                                                  const FileDeviceOptions& options);
  ~FileDevice() override;

  uint64_t size() const override;
  uint32_t alignment() const override;
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override;
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override;
  Status SubmitFlush(IoCallback done) override;
  // Regular files: ftruncate. Block devices: a size at or below the current one is a no-op;
  // growing runs the grow command (blocking the loop while it runs) and re-reads the size,
  // which must then be at least `new_size` (else kNoSpace).
  Status SubmitResize(uint64_t new_size, IoCallback done) override;
  // kNever: a page-cache read with RWF_NOWAIT (when try_without_blocking is on); never with
  // O_DIRECT, which always waits for the device. kAllowed: a plain pread, in either cache mode.
  bool TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait) override;
  // A plain pwrite in either cache mode; kFua adds RWF_DSYNC (pwritev2), as psync's sync=dsync.
  bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode mode) override;
  // False for block devices: their bytes are what they were.
  bool zero_initialized() const override;
  // Sets the grow command after open (the image header that names it is read from the device).
  void set_grow_command(std::string command);
  // Growing is not allowed (the opener's policy refused the header's command): a resize that
  // must grow a block device fails with kRefused and this message.
  void refuse_growth(std::string why);

  // Which backend is in use ("io_uring" or "thread pool"), for logs and tests.
  const char* backend_name() const;
  // The open descriptor (O_DIRECT when cache is kDirect), for a host that reads and writes the
  // same file on other threads itself (the NBD export's direct path, which dup()s it). Valid
  // while the device lives.
  int fd() const;
  const std::string& path() const;

 private:
  FileDevice() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fvd
