#include "core/seam/sync_io.h"

#include <memory>

namespace fvd {

Status SyncIo(const LoopDriver& drive, const std::function<Status(IoCallback)>& submit) {
  // Shared state so that a completion arriving after an early return (never, by contract,
  // but cheap to make safe) writes into live memory.
  struct State {
    bool done = false;
    Status status;
  };
  auto state = std::make_shared<State>();
  FVD_RETURN_IF_ERROR(submit([state](Status s) {
    state->status = std::move(s);
    state->done = true;
  }));
  drive([&] { return state->done; });
  if (!state->done) return Status::Internal("event loop went idle before the I/O completed");
  return state->status;
}

Status SyncRead(BlockDevice& dev, const LoopDriver& drive, uint64_t offset,
                std::span<std::byte> buf) {
  return SyncIo(drive, [&](IoCallback cb) { return dev.SubmitRead(offset, buf, std::move(cb)); });
}

Status SyncWrite(BlockDevice& dev, const LoopDriver& drive, uint64_t offset,
                 std::span<const std::byte> buf) {
  return SyncIo(drive, [&](IoCallback cb) {
    return dev.SubmitWrite(offset, buf, WriteMode::kCached, std::move(cb));
  });
}

Status SyncFlush(BlockDevice& dev, const LoopDriver& drive) {
  return SyncIo(drive, [&](IoCallback cb) { return dev.SubmitFlush(std::move(cb)); });
}

Status SyncResize(BlockDevice& dev, const LoopDriver& drive, uint64_t new_size) {
  return SyncIo(drive, [&](IoCallback cb) { return dev.SubmitResize(new_size, std::move(cb)); });
}

}  // namespace fvd
