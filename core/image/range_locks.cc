#include "core/image/range_locks.h"

#include <cassert>

namespace fvd {

RangeLock::~RangeLock() {
  assert(!held() && "a range lock was destroyed while held");
}

RangeLocks::~RangeLocks() {
  assert(locks_.empty() && "range locks held at shutdown");
}

RangeLock* RangeLocks::FindOverlap(uint64_t begin, uint64_t end) {
  for (RangeLock& l : locks_) {
    if (l.begin_ < end && begin < l.end_) return &l;
  }
  return nullptr;
}

bool RangeLocks::TryAcquire(RangeLock& lock, LockKind kind, uint64_t begin, uint64_t end) {
  assert(!lock.held());
  if (FindOverlap(begin, end) != nullptr) return false;
  lock.begin_ = begin;
  lock.end_ = end;
  lock.kind_ = kind;
  locks_.push_back(lock);
  return true;
}

void RangeLocks::Release(RangeLock& lock) {
  assert(lock.held());
  locks_.erase(locks_.iterator_to(lock));
  lock.dependents_.NotifyAll(scheduler_);
}

}  // namespace fvd
