// The block device: the only way core/ touches storage.
//
// CONTRACT (every implementation keeps it; decorators in sim/ stack on it):
// - Offsets and lengths are bytes. A device may require alignment (see alignment()): offsets,
//   lengths and buffer addresses must then be multiples of it.
// - Submit* either fails at once, returning a non-OK Status (then `done` never runs), or
//   returns OK and `done` runs exactly once, later, from the owner's event loop: never inline
//   from Submit*, even when the I/O itself fails (then `done` gets the error).
// - The caller keeps `buf` alive and unchanged (for writes) until `done` runs.
// - A completed write is in the device's volatile cache: it is durable only after a flush
//   submitted after that completion has completed, or at once if written with WriteMode::kFua.
//   Writes in flight are unordered with respect to each other and to flushes.
// - A read returns the latest completed write of each byte, or for bytes with writes in flight
//   either the old or the new data. Bytes never written read as zeros.
// - Reads and writes must lie inside [0, size()); Resize changes size() when `done` runs OK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "core/util/status.h"

namespace fvd {

// Completion of one device operation. Runs exactly once per accepted submission.
using IoCallback = std::function<void(Status)>;

// Whether BlockDevice::TryReadNow may wait for the data.
enum class ReadWait {
  kNever,    // only what is at hand (the page cache): the caller's loop must not stall
  kAllowed,  // the caller is synchronous and would wait anyway (a sync fio job, like psync)
};

enum class WriteMode {
  kCached,  // may sit in a volatile cache until a flush
  kFua,     // durable when it completes (force unit access)
};

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  // Current size in bytes.
  virtual uint64_t size() const = 0;

  // Required alignment of offsets, lengths and buffer addresses, in bytes (1 = none).
  virtual uint32_t alignment() const { return 1; }

  // True if bytes never written, and bytes added by a resize, read as zeros (files, memory).
  // False for storage that keeps whatever it held before (a block device): the reads-as-zeros
  // promises of this contract then do not hold, and the image layer zeroes what it relies on.
  virtual bool zero_initialized() const { return true; }

  [[nodiscard]] virtual Status SubmitRead(uint64_t offset, std::span<std::byte> buf,
                                          IoCallback done) = 0;
  [[nodiscard]] virtual Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf,
                                           WriteMode mode, IoCallback done) = 0;
  // Makes every write completed before this call durable.
  [[nodiscard]] virtual Status SubmitFlush(IoCallback done) = 0;
  // Grows (or shrinks) the device to `new_size` bytes; new bytes read as zeros. A device that
  // cannot change size completes with kNoSpace or kUnsupported.
  [[nodiscard]] virtual Status SubmitResize(uint64_t new_size, IoCallback done) = 0;

  // Optional, synchronous: reads [offset, offset + buf.size()) right here and returns true with
  // `buf` filled, as a read completing now would, if the device can: without waiting (a
  // page-cache hit, memory), or with ReadWait::kAllowed also by waiting for the storage here.
  // Returns false when it would have to wait (kNever), on any error, or when the device does
  // not offer it (the default): then `buf` may hold anything and the caller submits the read
  // as usual, which reports any error. Never calls back, never counts as a submission. For
  // hosts whose caller is itself synchronous (the fio plugin's reads); the engine's own request
  // paths always submit.
  [[nodiscard]] virtual bool TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait);
  // Optional, synchronous, for the same hosts: writes `buf` at `offset` right here, waiting for
  // the storage (and with kFua until it is durable), and returns true as a write completing now
  // would. False on any error or when the device does not offer it (the default): then part of
  // the range may hold the new bytes and the caller submits the whole write as usual, which
  // reports any error. Never calls back, never counts as a submission.
  [[nodiscard]] virtual bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf,
                                         WriteMode mode);

 protected:
  // Shared argument check for implementations: range inside the device and aligned.
  Status CheckRange(uint64_t offset, uint64_t length, const void* buf) const;
};

}  // namespace fvd
