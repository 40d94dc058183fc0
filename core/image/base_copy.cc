#include "core/image/base_copy.h"

#include <vector>

#include "core/image/extents.h"
#include "core/image/storage.h"

namespace fvd {

Task<Result<uint64_t>> CopyBaseIntoImage(Image::Core& c, uint64_t offset,
                                         std::span<const std::byte> bytes, bool recheck) {
  // Re-check under the lock: a guest write may have put some blocks in the image meanwhile,
  // and base data must never overwrite guest data. Copy only runs still in the base.
  std::vector<SourceRun> runs;
  if (recheck) {
    runs = SplitBySource(c.header, &c.fresh, offset, bytes.size());
  } else {
    runs = {{{offset, bytes.size()}, true}};
  }
  uint64_t copied = 0;
  for (const SourceRun& run : runs) {
    if (!run.in_base) continue;
    const uint64_t run_end = run.extent.offset + run.extent.length;
    auto allocated = co_await AllocateChunks(c, run.extent.offset, run_end);
    if (!allocated.ok()) co_return allocated.status();
    const auto part = bytes.subspan(run.extent.offset - offset, run.extent.length);
    Status s = co_await WriteData(c, run.extent.offset, part, c.data_write_mode());
    if (!s.ok()) {
      UndoAllocation(c, *allocated);
      co_return s;
    }
    if (!allocated->empty()) {
      FVD_CO_RETURN_IF_ERROR(co_await RecordUpdate(c, run.extent.offset, run_end, false));
    }
    MarkFresh(c, run.extent.offset, run.extent.length);
    copied += run.extent.length;
  }
  co_return copied;
}

}  // namespace fvd
