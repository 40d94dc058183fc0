// WaitList: coroutines suspended until someone calls NotifyAll. The waiter node lives in the
// awaiting coroutine's frame and is linked into an intrusive list, so waiting allocates
// nothing. Waiters are resumed through the scheduler (never inline from NotifyAll), in the
// order they started waiting, so a notifier finishes its own step before anyone else runs.
#pragma once

#include <boost/intrusive/list.hpp>
#include <coroutine>

#include "core/seam/clock.h"

namespace fvd {

class WaitList {
 public:
  struct Waiter : boost::intrusive::list_base_hook<> {
    std::coroutine_handle<> handle;
  };

  class Awaiter {
   public:
    explicit Awaiter(WaitList& list) : list_(list) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      node_.handle = h;
      list_.waiters_.push_back(node_);
    }
    void await_resume() const noexcept {}

   private:
    WaitList& list_;
    Waiter node_;
  };

  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  // co_await list.Wait(): suspends until the next NotifyAll.
  Awaiter Wait() { return Awaiter(*this); }

  // Schedules every current waiter to resume. Waiters added later wait for the next call.
  void NotifyAll(Scheduler& scheduler) {
    while (!waiters_.empty()) {
      Waiter& w = waiters_.front();
      waiters_.pop_front();
      scheduler.Post([h = w.handle] { h.resume(); });
    }
  }

  bool empty() const { return waiters_.empty(); }
  size_t size() const { return waiters_.size(); }

 private:
  boost::intrusive::list<Waiter> waiters_;
};

}  // namespace fvd
