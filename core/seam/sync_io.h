// Blocking wrappers over the async seam for tools, set-up code and tests: submit one
// operation, then drive the owner's event loop until it completes. Never used on the engine's
// request paths, which stay asynchronous.
#pragma once

#include <functional>
#include <span>

#include "core/seam/block_device.h"

namespace fvd {

// Runs an event loop until `done()` returns true (or the loop has nothing left to run).
using LoopDriver = std::function<void(const std::function<bool()>& done)>;

// Calls `submit` with a completion callback; returns its error at once if the submit failed,
// else drives the loop until the completion ran and returns the completion status.
Status SyncIo(const LoopDriver& drive, const std::function<Status(IoCallback)>& submit);

Status SyncRead(BlockDevice& dev, const LoopDriver& drive, uint64_t offset,
                std::span<std::byte> buf);
Status SyncWrite(BlockDevice& dev, const LoopDriver& drive, uint64_t offset,
                 std::span<const std::byte> buf);
Status SyncFlush(BlockDevice& dev, const LoopDriver& drive);
Status SyncResize(BlockDevice& dev, const LoopDriver& drive, uint64_t new_size);

}  // namespace fvd
