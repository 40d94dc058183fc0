// Request ordering between overlapping requests (FVD-FORMAT.md, "Ordering between requests").
//
// - Copy locks are held by in-flight copies of base data into the image: copy-on-read,
//   prefetch, and the base read of a partial-block write. Write locks are held by slow-path
//   guest writes (those that update metadata), over their block-aligned range.
// - A guest write waits while its range overlaps any copy or write lock; each held lock keeps
//   the writes waiting on it in its own list of dependent writes, and wakes them when it is
//   released. A woken write must re-evaluate (re-read the bitmap): the world changed.
// - Copy-on-read and prefetch never wait: they skip a range that overlaps any lock.
// Ranges are byte ranges [begin, end).
#pragma once

#include <boost/intrusive/list.hpp>
#include <cstdint>

#include "core/image/wait_list.h"

namespace fvd {

enum class LockKind { kCopy, kWrite };

class RangeLock : public boost::intrusive::list_base_hook<> {
 public:
  RangeLock() = default;
  RangeLock(const RangeLock&) = delete;
  RangeLock& operator=(const RangeLock&) = delete;
  ~RangeLock();  // REQUIRES: released

  uint64_t begin() const { return begin_; }
  uint64_t end() const { return end_; }
  bool held() const { return is_linked(); }

 private:
  friend class RangeLocks;
  uint64_t begin_ = 0;
  uint64_t end_ = 0;
  LockKind kind_ = LockKind::kCopy;
  WaitList dependents_;
};

class RangeLocks {
 public:
  explicit RangeLocks(Scheduler& scheduler) : scheduler_(scheduler) {}
  ~RangeLocks();  // REQUIRES: no lock held

  // The first held lock overlapping [begin, end), or nullptr.
  RangeLock* FindOverlap(uint64_t begin, uint64_t end);

  // Takes `lock` over [begin, end) if nothing overlaps; returns false (lock untouched) if
  // something does. REQUIRES: !lock.held()
  bool TryAcquire(RangeLock& lock, LockKind kind, uint64_t begin, uint64_t end);

  // co_await WaitFor(*blocking): suspends until `blocking` is released.
  WaitList::Awaiter WaitFor(RangeLock& blocking) { return blocking.dependents_.Wait(); }

  // Releases `lock` and wakes the writes that waited on it. REQUIRES: lock.held()
  void Release(RangeLock& lock);

  size_t held() const { return locks_.size(); }

 private:
  Scheduler& scheduler_;
  boost::intrusive::list<RangeLock> locks_;  // few at a time: a linear scan is fastest
};

}  // namespace fvd
