// Image::Read: from the data file, from the base image, or both, split against a snapshot of
// the fresh bitmap taken when the read starts; then copy-on-read of what came from the base.
#include <algorithm>
#include <memory>
#include <vector>

#include "core/image/base_copy.h"
#include "core/image/extents.h"
#include "core/image/image_core.h"
#include "core/image/prefetch_profile.h"
#include "core/image/storage.h"
#include "core/util/units.h"

namespace fvd {
namespace {

// Whole blocks read from the base, to be copied into the image in the background. The base
// read fills every byte (ReadBase zeroes what lies past the base) before any is used.
struct BaseCopy {
  uint64_t offset = 0;
  UninitializedIoBuffer bytes;
};

// Copies `copy` into the image unless the range is locked (base_copy.h). Failures only cost
// the copy: the guest's read already has its data.
Task<void> CopyOnRead(Image::Core& c, std::shared_ptr<BaseCopy> copy) {
  InFlightGuard guard(c);
  const Extent span = LockSpan(c, copy->offset, copy->bytes.size());
  RangeLock lock;
  [[maybe_unused]] const auto& options = c.options;
  const bool locked =
      c.locks.TryAcquire(lock, LockKind::kCopy, span.offset, span.offset + span.length);
  if (c.metadata_error || (!locked && !FVD_IF_TEST_BUG(cor_ignores_write_lock))) {
    if (locked) c.locks.Release(lock);
    ++c.stats.copy_on_read_skipped;
    c.outstanding_copy_on_read_bytes -= copy->bytes.size();
    co_return;
  }
  const bool recheck = !FVD_IF_TEST_BUG(cor_skips_recheck);
  auto copied = co_await CopyBaseIntoImage(c, copy->offset, copy->bytes, recheck);
  if (copied.ok() && *copied > 0) {
    ++c.stats.copy_on_read_copies;
    c.stats.copy_on_read_bytes += *copied;
  }
  if (lock.held()) c.locks.Release(lock);
  c.outstanding_copy_on_read_bytes -= copy->bytes.size();
}

// True if every block of the range is in the image (fresh bitmap), so nothing comes from the base.
bool AllInImage(const Image::Core& c, uint64_t offset, uint64_t length) {
  const BlockSpan b = BlocksOf(c.header, offset, length);
  return b.empty() || c.fresh.AllSet(b.first, b.end - b.first);
}

bool CopyOnReadEnabled(const Image::Core& c) {
  return c.header.copy_on_read && !c.read_only() && !c.metadata_error &&
         (c.journal != nullptr || c.direct != nullptr);
}

// Reads one base run into `out`; with copy-on-read, reads its whole blocks and schedules
// their copy into the image when the outstanding-bytes limit allows.
Task<Status> ReadFromBase(Image::Core& c, Extent run, std::span<std::byte> out) {
  const uint64_t bs = c.header.block_size;
  const uint64_t begin = run.offset / bs * bs;
  const uint64_t end = std::min(RoundUp(run.offset + run.length, bs), c.header.base_img_size);
  const uint64_t len = end - begin;
  if (c.profile_recorder != nullptr) c.profile_recorder->OnBaseRead(run.offset, run.length);
  c.stats.last_guest_base_read_ns = c.env.clock.Now().time_since_epoch().count();
  if (!CopyOnReadEnabled(c) ||
      c.outstanding_copy_on_read_bytes + len > c.header.max_outstanding_copy_on_read_data) {
    if (CopyOnReadEnabled(c)) ++c.stats.copy_on_read_skipped;
    co_return co_await c.ReadBase(run.offset, out);
  }
  auto copy = std::make_shared<BaseCopy>();
  copy->offset = begin;
  copy->bytes.resize(len);
  c.outstanding_copy_on_read_bytes += len;
  Status s = co_await c.ReadBase(begin, copy->bytes);
  if (!s.ok()) {
    c.outstanding_copy_on_read_bytes -= len;
    co_return s;
  }
  const auto from = copy->bytes.begin() + static_cast<ptrdiff_t>(run.offset - begin);
  std::copy(from, from + static_cast<ptrdiff_t>(run.length), out.begin());
  Detach(CopyOnRead(c, std::move(copy)), [] {});
  co_return Status::Ok();
}

// A read some of whose blocks are still in the base: split against a snapshot of the fresh
// bitmap (later changes do not affect this read), each run from where it is.
Task<Status> ReadMixed(Image::Core& c, uint64_t offset, std::span<std::byte> buf) {
  const auto runs = SplitBySource(c.header, &c.fresh, offset, buf.size());
  for (const SourceRun& run : runs) {
    auto part = buf.subspan(run.extent.offset - offset, run.extent.length);
    // (No co_await inside ?: — GCC 12 mishandles temporaries there.)
    Status s;
    if (run.in_base) {
      s = co_await ReadFromBase(c, run.extent, part);
    } else {
      s = co_await c.ReadData(run.extent.offset, part);
    }
    if (!s.ok()) co_return s;
  }
  co_return Status::Ok();
}

}  // namespace

Task<Status> Image::Read(uint64_t offset, std::span<std::byte> buf) {
  Core& c = *core_;
  FVD_CO_RETURN_IF_ERROR(c.CheckRange(offset, buf.size()));
  InFlightGuard guard(c);
  ++c.stats.guest_reads;
  if (c.use_bitmap && !AllInImage(c, offset, buf.size()))
    co_return co_await ReadMixed(c, offset, buf);
  // The fast path: one contiguous run of the data file; this frame is all it allocates.
  const uint64_t physical = SinglePhysicalRun(c.header, c.table, offset, buf.size());
  if (physical == kUnallocated) co_return co_await c.ReadData(offset, buf);
  co_return co_await AwaitIo(
      [&](IoCallback cb) { return c.data_dev.SubmitRead(physical, buf, std::move(cb)); });
}

bool Image::TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait) {
  Core& c = *core_;
  if (buf.empty() || !c.CheckRange(offset, buf.size()).ok()) return false;
  if (c.use_bitmap && !AllInImage(c, offset, buf.size())) return false;
  const uint64_t physical = SinglePhysicalRun(c.header, c.table, offset, buf.size());
  if (physical == kUnallocated || !c.data_dev.TryReadNow(physical, buf, wait)) return false;
  ++c.stats.guest_reads;
  return true;
}

}  // namespace fvd
