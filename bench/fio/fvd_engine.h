// The FVD side of the fio plugin, free of fio's headers so it can be tested on its own: one
// image on real files, requests queued by fio and completions reaped by fio, on one event loop
// run only from Reap (fio's getevents), so the core stays single-threaded.
//
// CONTRACT
// - One FvdEngine per fio job thread/process; never shared.
// - Prepare (fio's get_file_size) creates the image when it is missing and creation options
//   were given, and returns the virtual size; Open/Close (fio's open_file/close_file) open and
//   cleanly close it. fio closes and reopens between its write and verify phases.
// - Queue starts a request and returns at once; its completion is handed back by a later Reap
//   with an errno value (0 = success). Buffers stay alive until then (fio guarantees it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/fio/engine_options.h"
#include "core/util/status.h"

namespace fvd::fio {

enum class RequestKind { kRead, kWrite, kFlush };

struct Completion {
  void* cookie = nullptr;  // fio's io_u
  int error = 0;           // errno; 0 when the request succeeded
};

// errno for a failed request.
int ErrnoFor(const Status& s);

class FvdEngine {
 public:
  using Logger = std::function<void(const std::string&)>;

  // `log` receives one line per distinct error (fio's log_err).
  static Result<std::unique_ptr<FvdEngine>> Create(EngineOptions options, Logger log);
  ~FvdEngine();

  // Creates `path` if it does not exist and the options allow it (`default_size` is fio's
  // size= when neither fvd_size nor a base gives one). Returns the image's virtual size.
  Result<uint64_t> Prepare(const std::string& path, uint64_t default_size);
  Status Open(const std::string& path);
  Status Close();  // waits for requests in flight; clean shutdown

  // Starts a request; `cookie` comes back in its Completion. Fails at once (nothing queued)
  // only when no image is open.
  Status Queue(RequestKind kind, uint64_t offset, std::span<std::byte> buf, void* cookie);
  // A read served at once when its data is at hand (Image::TryReadNow: in the image, and in
  // the page cache unless `wait` allows waiting for the file): true, and no Completion will
  // come for it. False: nothing was started; Queue it. Spares the read the coroutine, the
  // device op and the loop round trip. Every 64th such read also runs what is ready on the
  // loop (timers, completions, background work), without waiting.
  bool TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait);
  // A write done at once, waiting for the storage, when it is in place or an allocating write
  // nothing would delay (Image::TryWriteNow): true, and no Completion will come for it. False:
  // Queue it. For sync jobs (iodepth 1), which wait anyway: psync's pwrite. Shares
  // TryReadNow's loop passes.
  bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf);
  // Runs the loop until at least `min` completions are ready (or `timeout` passes), then
  // appends up to `max` of them to `out` and returns how many.
  size_t Reap(size_t min, size_t max, std::optional<std::chrono::nanoseconds> timeout,
              std::vector<Completion>& out);
  size_t in_flight() const;

 private:
  struct State;
  explicit FvdEngine(std::unique_ptr<State> state);
  void ServedNow();  // after a request served at once: now and then, a pass of the loop
  std::unique_ptr<State> state_;
};

}  // namespace fvd::fio
