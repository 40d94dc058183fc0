// A base image on a remote NBD server: a read-only BlockDevice over libnbd, asynchronous on the
// PosixEventLoop (libnbd's aio calls; its socket watched by the loop), so base reads from
// guest reads, copy-on-read and prefetch overlap as they do on a file. FVD was made for clouds
// whose base images live on shared network storage; this is that base.
//
// CONTRACT (beyond BlockDevice's)
// - Open connects (blocking, at most `timeout`) and learns the export's size; it fails naming
//   the URI and what happened (refused, no such export, unreachable).
// - Reads longer than the server takes in one request are split. Writes and resizes fail at
//   submit with kReadOnly; a flush completes OK (nothing to make durable).
// - Faults are real: a read the server fails completes with kIoError naming the URI, the range
//   and the server's errno, and the connection goes on. A connection that drops, or a read
//   with no reply within `timeout`, kills the connection: every read in flight and every later
//   one fails with kIoError naming the URI and what happened, until the image is reopened.
//   Nothing reaches a buffer after its read has completed.
// - All of it runs on the loop thread; the device must be destroyed on it, before the loop.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/posix/event_loop.h"
#include "core/seam/block_device.h"

namespace fvd::remote {

struct NbdBaseOptions {
  // The longest a base read (and the connection at open) may wait for the server.
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  // Reads are split into requests of at most this many bytes (or the server's maximum).
  uint64_t max_request = 32 << 20;
};

// True for the NBD URIs libnbd connects to (nbd://, nbds://, nbd+unix://, nbds+unix://,
// nbd+vsock://, nbds+vsock://): the base names that mean a remote base.
bool IsNbdUri(std::string_view name);

class NbdBaseDevice final : public BlockDevice {
 public:
  static Result<std::unique_ptr<NbdBaseDevice>> Open(PosixEventLoop& loop, const std::string& uri,
                                                     const NbdBaseOptions& options = {});
  // A base whose server could not be reached: `size` bytes (the header's), every read failing
  // at submit with kIoError naming the URI and `why`. So an image whose data is (mostly) in
  // place still opens and serves it while its base server is gone.
  static std::unique_ptr<NbdBaseDevice> Unreachable(PosixEventLoop& loop, const std::string& uri,
                                                    uint64_t size, const std::string& why);
  ~NbdBaseDevice() override;

  uint64_t size() const override;
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override;
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override;
  Status SubmitFlush(IoCallback done) override;
  Status SubmitResize(uint64_t new_size, IoCallback done) override;

  const std::string& uri() const;
  // Empty while the connection is up; else why it is gone.
  const std::string& dead_reason() const;

  struct Impl;

 private:
  explicit NbdBaseDevice(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fvd::remote
