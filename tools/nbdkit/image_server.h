// ImageServer: one FVD image served to many threads. The core is single-threaded: it runs on
// one event-loop thread of its own, and every request from another thread (nbdkit's worker
// threads) that needs it travels to it as posted work and waits for its completion. No lock
// reaches the core. Requests on data the image holds in place need no core: they are done on
// the caller's thread (DirectPath, direct_path.h), and so are allocating writes of whole blocks
// of a plain overlay, whose metadata the loop then records without the caller waiting
// (Image::RecordHostWrite): a flush waits for those records, and fails if one failed.
//
// CONTRACT
// - Start opens (or, when the file is missing and creation options are given, creates) the
//   image on the loop thread and returns once it is open, or with the error.
// - Read/Write/Flush may be called from any thread, concurrently; each blocks until its
//   request completes. Offsets and lengths are multiples of 512 (the export advertises it).
// - Stop (and the destructor) waits for requests in flight, closes the image cleanly and joins
//   the loop thread. No request may be started after Stop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/format/layout.h"
#include "core/image/image.h"
#include "core/util/status.h"
#include "tools/host/trust.h"

namespace fvd::nbd {

struct ServerOptions {
  std::string file;
  bool read_only = false;
  bool direct = false;  // O_DIRECT (cache=none)
  JournalMode journal = JournalMode::kBuffered;
  // Buffered journal: records queued in memory before a write-out (which first flushes the data
  // file) starts without a flush asking for it. 0: the engine's default.
  uint64_t journal_buffer_bytes = 0;
  // Used only when `file` does not exist: the image to create (virtual_size or base_img set).
  bool create = false;
  format::CreateOptions create_options;
  // What the image may make this host do (tools/host/trust.h), and what opening may cost.
  host::TrustPolicy policy;
  uint64_t max_metadata_memory = uint64_t{1} << 30;
  // Requests on data the image holds in place are done on the caller's thread (direct_path.h);
  // false sends every request through the loop thread (to measure what the direct path gives).
  bool direct_path = true;
  // The longest a remote (NBD) base may take to connect or answer a read.
  std::chrono::nanoseconds base_timeout = std::chrono::seconds(30);
};

// Before any thread exists (nbdkit's get_ready, before it forks): creates the image if it is
// missing and creation was asked for, else checks that it exists and its header is valid, so a
// bad file fails the server at startup with one message.
Status PrepareImage(const ServerOptions& options);

// Requests served, by path: direct (on the caller's thread) or through the loop thread;
// direct_allocating_writes: written on the caller's thread, recorded by the loop after.
struct ServerStats {
  uint64_t direct_reads = 0, direct_writes = 0, loop_reads = 0, loop_writes = 0;
  uint64_t direct_allocating_writes = 0;
};

class ImageServer {
 public:
  static Result<std::unique_ptr<ImageServer>> Start(const ServerOptions& options);
  ~ImageServer();

  Status Read(uint64_t offset, std::span<std::byte> buf);
  Status Write(uint64_t offset, std::span<const std::byte> buf);
  Status Flush();
  Status Stop();

  uint64_t size() const;
  ServerStats stats() const;
  bool read_only() const;

  struct State;

 private:
  explicit ImageServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace fvd::nbd
