// RecordQueue: allocating writes the export's workers made themselves (DirectPath::
// WriteAllocating) that the image's loop thread has yet to record (Image::RecordHostWrite).
// A worker pushes its range before it reports the write done and does not wake the loop for
// it: the loop takes the queue before anything else a worker asks of it (a read, a write, a
// flush, the close), so every request sent after that report finds the write recorded, and
// the loop is woken for records alone only once wake_at of them wait (which bounds the queue).
//
// CONTRACT
// - Push from any thread; TakeAll from one thread at a time (the loop). Ranges come out in the
//   order pushed.
// - Push returns true for the push that makes the queue reach wake_at: that caller must post
//   a TakeAll to the loop. Until that TakeAll, no other push returns true.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/image/image.h"

namespace fvd::nbd {

class RecordQueue {
 public:
  explicit RecordQueue(size_t wake_at) : wake_at_(wake_at) {}

  bool Push(uint64_t offset, uint64_t length) {
    std::lock_guard lock(mu_);
    ranges_.push_back({offset, length});
    if (wake_posted_ || ranges_.size() < wake_at_) return false;
    wake_posted_ = true;
    return true;
  }

  // Every range pushed so far into `out` (emptied first), in push order. `out`'s old buffer
  // becomes the queue's, so a caller that passes the same vector each time makes pushes
  // allocate nothing once it has grown.
  void TakeAll(std::vector<ByteRange>& out) {
    out.clear();
    std::lock_guard lock(mu_);
    out.swap(ranges_);
    wake_posted_ = false;
  }

 private:
  const size_t wake_at_;
  std::mutex mu_;
  std::vector<ByteRange> ranges_;  // guarded by mu_
  bool wake_posted_ = false;       // guarded by mu_
};

}  // namespace fvd::nbd
