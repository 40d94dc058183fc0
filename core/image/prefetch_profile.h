// Profile-directed prefetch (beyond FVD v1, which reserved the header fields but never
// implemented it): record the order in which guest reads first pull base blocks, so that later
// VMs created from the same base prefetch those blocks first.
#pragma once

#include <cstdint>
#include <vector>

#include "core/format/bitmap.h"
#include "core/image/extents.h"

namespace fvd {

// Records the first guest read of each base block, in order, as byte extents of whole blocks;
// a read that continues the previous extent extends it. Keeps at most `max_entries` extents.
class ProfileRecorder {
 public:
  ProfileRecorder(uint64_t base_bytes, uint32_t block_size, uint64_t max_entries);

  // A guest read of [offset, offset + length) went to the base image.
  void OnBaseRead(uint64_t offset, uint64_t length);
  const std::vector<Extent>& entries() const { return entries_; }
  bool full() const { return entries_.size() >= max_entries_; }

 private:
  uint64_t base_bytes_;
  uint32_t block_size_;
  uint64_t max_entries_;
  format::Bitmap seen_;
  std::vector<Extent> entries_;
};

}  // namespace fvd
