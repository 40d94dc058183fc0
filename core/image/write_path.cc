// Image::Write: in place when every touched block is durably in the image; otherwise
// copy-on-write under a write lock (FVD-FORMAT.md, "Write (copy-on-write)").
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/format/constants.h"
#include "core/image/extents.h"
#include "core/image/image_core.h"
#include "core/image/storage.h"
#include "core/util/units.h"

namespace fvd {
namespace {

// The extent actually written: the guest range, widened to whole blocks where a partial block
// is still in the base (its other bytes are copied from there).
Extent CopyOnWriteExtent(const Image::Core& c, uint64_t offset, uint64_t length) {
  uint64_t begin = offset, end = offset + length;
  if (!c.use_bitmap) return {begin, length};
  const uint64_t bs = c.header.block_size;
  const uint64_t base_end = c.header.base_img_size;
  if (begin < base_end && begin % bs != 0 && !c.stale.Test(begin / bs)) begin = begin / bs * bs;
  if (end < base_end && end % bs != 0 && !c.stale.Test(end / bs)) {
    end = std::min(RoundUp(end, bs), base_end);
  }
  return {begin, end - begin};
}

// head (from the base) + guest data + tail (from the base), as one buffer.
Task<Status> MergeWithBase(Image::Core& c, Extent whole, uint64_t offset,
                           std::span<const std::byte> data, IoBuffer& out) {
  out.resize(whole.length);
  const uint64_t head = offset - whole.offset;
  const uint64_t tail_at = head + data.size();
  std::copy(data.begin(), data.end(), out.begin() + static_cast<ptrdiff_t>(head));
  if (head > 0)
    FVD_CO_RETURN_IF_ERROR(co_await c.ReadBase(whole.offset, std::span(out).subspan(0, head)));
  if (tail_at < out.size()) {
    FVD_CO_RETURN_IF_ERROR(
        co_await c.ReadBase(whole.offset + tail_at, std::span(out).subspan(tail_at)));
  }
  co_return Status::Ok();
}

// The slow path, under a write lock over LockSpan(offset, length).
Task<Status> WriteWithMetadata(Image::Core& c, uint64_t offset, std::span<const std::byte> buf) {
  const Extent whole = CopyOnWriteExtent(c, offset, buf.size());
  IoBuffer merged;
  std::span<const std::byte> data = buf;
  if (whole.offset != offset || whole.length != buf.size()) {
    FVD_CO_RETURN_IF_ERROR(co_await MergeWithBase(c, whole, offset, buf, merged));
    data = merged;
  }
  const uint64_t end = whole.offset + whole.length;
  auto allocated = co_await AllocateChunks(c, whole.offset, end);
  if (!allocated.ok()) co_return allocated.status();
  Status s = co_await WriteData(c, whole.offset, data, c.data_write_mode());
  if (!s.ok()) {
    UndoAllocation(c, *allocated);
    co_return s;
  }
  MarkFresh(c, whole.offset, whole.length);
  // The record goes to the journal only now that the data is written (FUA in unbuffered mode;
  // a buffered write-out flushes the data file before writing records).
  [[maybe_unused]] const auto& options = c.options;
  if (FVD_IF_TEST_BUG(stale_before_journal)) CommitUpdate(c, whole.offset, end, /*bitmap=*/true);
  FVD_CO_RETURN_IF_ERROR(co_await RecordUpdate(c, whole.offset, end, /*bitmap=*/true));
  ++c.stats.allocating_writes;
  co_return Status::Ok();
}

// An allocating write done right here, in WriteWithMetadata's order (data, fresh bits, journal
// record, stale bits), when nothing in it would wait: the buffered journal takes the record now,
// no other request holds the blocks, no byte comes from the base and every chunk is allocated.
// `write_data(physical)` writes the data (false: it could not now). Returns false, having
// changed nothing, otherwise.
template <typename WriteData>
bool TryAllocatingNow(Image::Core& c, uint64_t offset, uint64_t length, WriteData write_data) {
  if (c.journal == nullptr) return false;
  const Extent whole = CopyOnWriteExtent(c, offset, length);
  if (whole.offset != offset || whole.length != length) return false;  // a base merge
  if (!ChunksJournaled(c, offset, length)) return false;
  const uint64_t end = offset + length;
  const Extent span = LockSpan(c, offset, length);
  if (c.locks.FindOverlap(span.offset, span.offset + span.length) != nullptr) return false;
  JournalUpdate update = MakeUpdate(c, offset, end, /*bitmap=*/true);
  if (!c.journal->CanAppendNow(update)) return false;
  const uint64_t physical = SinglePhysicalRun(c.header, c.table, offset, length);
  if (physical == kUnallocated || !write_data(physical)) return false;
  MarkFresh(c, offset, length);
  // Cannot fail: CanAppendNow said so, and nothing ran since.
  if (!c.journal->TryAppendNow(std::move(update))) std::abort();
  CommitUpdate(c, offset, end, /*bitmap=*/true);
  ++c.stats.guest_writes;
  ++c.stats.allocating_writes;
  return true;
}

// One try at the write lock a metadata change of [offset, offset + length) takes (over its
// LockSpan): nullptr with `lock` held, or the request holding part of it, to wait for and then
// look again (it may have put these blocks in the image).
RangeLock* TryLockForMetadata(Image::Core& c, uint64_t offset, uint64_t length, RangeLock& lock) {
  const Extent span = LockSpan(c, offset, length);
  if (RangeLock* other = c.locks.FindOverlap(span.offset, span.offset + span.length)) {
    ++c.stats.lock_waits;
    return other;
  }
  c.locks.TryAcquire(lock, LockKind::kWrite, span.offset, span.offset + span.length);
  return nullptr;
}

bool HostMayAllocate(const Image::Core& c) {
  return c.use_bitmap && !c.compact() && c.journal != nullptr && c.buffered() && !c.read_only() &&
         !c.header.copy_on_read && c.prefetcher == nullptr;
}

// What RecordHostWrite refuses: a range HostMayAllocate does not let a host write itself.
Status CheckHostWrite(const Image::Core& c, uint64_t offset, uint64_t length) {
  FVD_RETURN_IF_ERROR(c.CheckRange(offset, length));
  if (!HostMayAllocate(c)) {
    return Status::InvalidArgument("a host allocating write on an image that does not allow it");
  }
  const Extent whole = CopyOnWriteExtent(c, offset, length);
  if (whole.offset != offset || whole.length != length) {
    return Status::InvalidArgument("a host allocating write of part of a block in the base, at " +
                                   std::to_string(offset) + " length " + std::to_string(length));
  }
  return Status::Ok();
}

}  // namespace

Task<Status> Image::Write(uint64_t offset, std::span<const std::byte> buf) {
  Core& c = *core_;
  FVD_CO_RETURN_IF_ERROR(c.CheckRange(offset, buf.size()));
  FVD_CO_RETURN_IF_ERROR(c.CheckWritable());
  InFlightGuard guard(c);
  ++c.stats.guest_writes;
  if (buf.empty()) co_return Status::Ok();
  for (;;) {
    if (!NeedsMetadata(c, offset, buf.size())) {
      ++c.stats.in_place_writes;
      const uint64_t physical = SinglePhysicalRun(c.header, c.table, offset, buf.size());
      if (physical == kUnallocated)
        co_return co_await WriteData(c, offset, buf, c.data_write_mode());
      const WriteMode mode = c.data_write_mode();
      Status s = co_await AwaitIo([&](IoCallback cb) {
        return c.data_dev.SubmitWrite(physical, buf, mode, std::move(cb));
      });
      co_return s.WithContext("data write");
    }
    RangeLock lock;
    if (RangeLock* other = TryLockForMetadata(c, offset, buf.size(), lock)) {
      co_await c.locks.WaitFor(*other);
      continue;
    }
    Status s = co_await WriteWithMetadata(c, offset, buf);
    c.locks.Release(lock);
    co_return s;
  }
}

std::optional<uint64_t> Image::InPlaceRun(uint64_t offset, uint64_t length) const {
  const Core& c = *core_;
  if (length == 0 || !c.CheckRange(offset, length).ok() || NeedsMetadata(c, offset, length))
    return std::nullopt;
  const uint64_t physical = SinglePhysicalRun(c.header, c.table, offset, length);
  if (physical == kUnallocated) return std::nullopt;
  return physical;
}

bool Image::TryWriteNow(uint64_t offset, std::span<const std::byte> buf) {
  Core& c = *core_;
  if (buf.empty() || !c.CheckRange(offset, buf.size()).ok() || !c.CheckWritable().ok())
    return false;
  if (NeedsMetadata(c, offset, buf.size())) {
    return TryAllocatingNow(c, offset, buf.size(), [&](uint64_t physical) {
      return c.data_dev.TryWriteNow(physical, buf, c.data_write_mode());
    });
  }
  const uint64_t physical = SinglePhysicalRun(c.header, c.table, offset, buf.size());
  if (physical == kUnallocated || !c.data_dev.TryWriteNow(physical, buf, c.data_write_mode()))
    return false;
  ++c.stats.guest_writes;
  ++c.stats.in_place_writes;
  return true;
}

bool Image::HostMayAllocate() const {
  return fvd::HostMayAllocate(*core_);
}

bool Image::TryRecordHostWriteNow(uint64_t offset, uint64_t length) {
  Core& c = *core_;
  if (length == 0 || !fvd::HostMayAllocate(c) || !c.CheckRange(offset, length).ok() ||
      !c.CheckWritable().ok())
    return false;
  // TryAllocatingNow declines a range that is not whole blocks (RecordHostWrite then refuses it).
  if (NeedsMetadata(c, offset, length))
    return TryAllocatingNow(c, offset, length, [](uint64_t) { return true; });
  ++c.stats.guest_writes;
  ++c.stats.in_place_writes;
  return true;
}

Task<Status> Image::RecordHostWrite(uint64_t offset, uint64_t length) {
  Core& c = *core_;
  FVD_CO_RETURN_IF_ERROR(CheckHostWrite(c, offset, length));
  InFlightGuard guard(c);
  ++c.stats.guest_writes;
  if (length == 0) co_return Status::Ok();
  // The data is in the image already: reads see it from now on. A write of these blocks that
  // arrives later waits for the lock below (or behind the same holder, and waiters resume in
  // order), so it finds them recorded and merges no base bytes over them.
  MarkFresh(c, offset, length);
  FVD_CO_RETURN_IF_ERROR(c.CheckWritable());
  for (;;) {
    if (!NeedsMetadata(c, offset, length)) {
      ++c.stats.in_place_writes;
      co_return Status::Ok();
    }
    RangeLock lock;
    if (RangeLock* other = TryLockForMetadata(c, offset, length, lock)) {
      co_await c.locks.WaitFor(*other);
      continue;
    }
    Status s = co_await RecordUpdate(c, offset, offset + length, /*bitmap=*/true);
    c.locks.Release(lock);
    if (s.ok()) ++c.stats.allocating_writes;
    co_return s;
  }
}

}  // namespace fvd
