#include "core/image/prefetch_profile.h"

#include <algorithm>

#include "core/util/units.h"

namespace fvd {

ProfileRecorder::ProfileRecorder(uint64_t base_bytes, uint32_t block_size, uint64_t max_entries)
    : base_bytes_(base_bytes),
      block_size_(block_size),
      max_entries_(max_entries),
      seen_(block_size > 0 ? DivRoundUp(base_bytes, block_size) : 0) {}

void ProfileRecorder::OnBaseRead(uint64_t offset, uint64_t length) {
  if (block_size_ == 0 || offset >= base_bytes_) return;
  const uint64_t first = offset / block_size_;
  const uint64_t end = DivRoundUp(std::min(offset + length, base_bytes_), block_size_);
  for (uint64_t b = first; b < end; ++b) {
    if (seen_.Test(b)) continue;
    seen_.Set(b);
    const uint64_t at = b * block_size_;
    if (!entries_.empty() && entries_.back().offset + entries_.back().length == at) {
      entries_.back().length += block_size_;
    } else if (!full()) {
      entries_.push_back({at, block_size_});
    }
  }
}

}  // namespace fvd
