#include "core/posix/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace fvd {
namespace {

std::string ErrnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

struct HeapEntry {
  TimePoint when;
  TimerId id;
};

// std::push_heap builds a max-heap; "later" first makes the earliest (deadline, id) the top.
bool Later(const HeapEntry& a, const HeapEntry& b) {
  if (a.when != b.when) return a.when > b.when;
  return a.id > b.id;
}

}  // namespace

struct PosixEventLoop::Impl {
  int epoll_fd = -1;
  int wake_fd = -1;

  // Timers: the heap orders (deadline, id); `timer_fns` holds the pending ones. A cancelled
  // timer leaves a stale heap entry that is skipped when it reaches the top, which keeps
  // Cancel O(1) without a searchable heap.
  std::vector<HeapEntry> heap;
  std::unordered_map<TimerId, std::function<void()>> timer_fns;
  TimerId next_id = 1;

  // Cross-thread work, the only state touched off the loop thread.
  std::mutex posted_mu;
  std::vector<std::function<void()>> posted;
  std::vector<std::function<void()>> running;  // loop thread only: the batch being run
  static constexpr unsigned kPollEvery = 16;
  unsigned busy_passes = 0;  // passes in a row that skipped polling the fds
  // Lets posters skip the eventfd write when a wakeup is already on its way.
  std::atomic<bool> wake_pending{false};

  // Shared so a callback may unwatch its own fd (or another one) while it runs.
  std::unordered_map<int, std::shared_ptr<std::function<void(uint32_t)>>> watched;

  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
    if (epoll_fd >= 0) ::close(epoll_fd);
  }

  TimePoint Now() const {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return TimePoint(Duration(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
  }

  // Drops cancelled entries from the top so heap.front() (if any) is a live timer.
  void PruneHeap() {
    while (!heap.empty() && !timer_fns.contains(heap.front().id)) {
      std::pop_heap(heap.begin(), heap.end(), Later);
      heap.pop_back();
    }
  }

  bool HasPosted() {
    std::lock_guard lock(posted_mu);
    return !posted.empty();
  }

  // epoll_wait timeout in ms: 0 when work is ready (or blocking is not allowed), the time to
  // the next deadline rounded up (so we never wake before it), or -1 for "until woken".
  int WaitTimeoutMs(bool may_block) {
    if (!may_block || HasPosted()) return 0;
    PruneHeap();
    if (heap.empty()) return -1;
    const Duration left = heap.front().when - Now();
    if (left <= Duration::zero()) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  }

  void DrainWakeFd() {
    uint64_t count = 0;
    // Non-blocking; EAGAIN just means a racing poster already got drained.
    [[maybe_unused]] ssize_t n = ::read(wake_fd, &count, sizeof(count));
  }

  size_t PollFds(int timeout_ms) {
    epoll_event events[64];
    int n = ::epoll_wait(epoll_fd, events, 64, timeout_ms);
    if (n < 0) return 0;  // EINTR: the caller's loop simply goes round again
    size_t ran = 0;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd) {
        DrainWakeFd();
        continue;
      }
      // An earlier callback in this batch may have unwatched it.
      auto it = watched.find(fd);
      if (it == watched.end()) continue;
      std::shared_ptr<std::function<void(uint32_t)>> fn = it->second;
      (*fn)(events[i].events);
      ++ran;
    }
    return ran;
  }

  size_t RunPosted() {
    // `running` keeps its capacity across passes, so posting allocates nothing when busy.
    {
      std::lock_guard lock(posted_mu);
      running.swap(posted);
      // Cleared under the lock: a poster that sees it false after this writes the eventfd.
      wake_pending.store(false, std::memory_order_relaxed);
    }
    for (auto& fn : running) fn();
    const size_t n = running.size();
    running.clear();
    return n;
  }

  // Runs timers that were due when the pass started. Timers a callback schedules get a
  // larger id, so they wait for the next pass even with a zero delay: one pass always ends.
  size_t RunDueTimers() {
    const TimePoint now = Now();
    const TimerId id_limit = next_id;
    size_t ran = 0;
    while (true) {
      PruneHeap();
      if (heap.empty() || heap.front().when > now) break;
      if (heap.front().id >= id_limit) break;
      std::pop_heap(heap.begin(), heap.end(), Later);
      const TimerId id = heap.back().id;
      heap.pop_back();
      auto node = timer_fns.extract(id);
      node.mapped()();
      ++ran;
    }
    return ran;
  }

  // A pass in RunUntil that found posted work or due timers returns without asking epoll
  // (the caller re-checks its condition); every kPollEvery-th busy pass still polls the fds,
  // so I/O completions are never starved by a stream of posted work.
  size_t RunOnePass(bool may_block) {
    if (may_block && busy_passes < kPollEvery) {
      const size_t ran = RunPosted() + RunDueTimers();
      if (ran > 0) {
        ++busy_passes;
        return ran;
      }
    }
    busy_passes = 0;
    size_t ran = PollFds(WaitTimeoutMs(may_block));
    ran += RunPosted();
    ran += RunDueTimers();
    return ran;
  }
};

Result<std::unique_ptr<PosixEventLoop>> PosixEventLoop::Create() {
  std::unique_ptr<PosixEventLoop> loop(new PosixEventLoop());
  loop->impl_ = std::make_unique<Impl>();
  Impl& impl = *loop->impl_;
  impl.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (impl.epoll_fd < 0) return Status::IoError("epoll_create1 failed: " + ErrnoText(errno));
  impl.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl.wake_fd < 0) return Status::IoError("eventfd failed: " + ErrnoText(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = impl.wake_fd;
  if (::epoll_ctl(impl.epoll_fd, EPOLL_CTL_ADD, impl.wake_fd, &ev) != 0) {
    return Status::IoError("epoll_ctl(eventfd) failed: " + ErrnoText(errno));
  }
  return loop;
}

PosixEventLoop::~PosixEventLoop() = default;

TimePoint PosixEventLoop::Now() const {
  return impl_->Now();
}

TimerId PosixEventLoop::ScheduleAfter(Duration delay, std::function<void()> fn) {
  if (delay < Duration::zero()) delay = Duration::zero();
  const TimerId id = impl_->next_id++;
  impl_->timer_fns.emplace(id, std::move(fn));
  impl_->heap.push_back({impl_->Now() + delay, id});
  std::push_heap(impl_->heap.begin(), impl_->heap.end(), Later);
  return id;
}

bool PosixEventLoop::Cancel(TimerId id) {
  return impl_->timer_fns.erase(id) > 0;
}

void PosixEventLoop::PostFromAnyThread(std::function<void()> fn) {
  {
    std::lock_guard lock(impl_->posted_mu);
    impl_->posted.push_back(std::move(fn));
    if (impl_->wake_pending.exchange(true, std::memory_order_relaxed)) return;
  }
  const uint64_t one = 1;
  // Can only fail with EAGAIN when the counter is saturated, and then the loop is awake anyway.
  [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof(one));
}

Status PosixEventLoop::WatchFd(int fd, std::function<void()> on_ready) {
  return WatchSocket(fd, [f = std::move(on_ready)](bool, bool) { f(); });
}

Status PosixEventLoop::WatchSocket(int fd,
                                   std::function<void(bool readable, bool writable)> on_ready) {
  if (fd == impl_->wake_fd || impl_->watched.contains(fd)) {
    return Status::InvalidArgument("fd " + std::to_string(fd) + " is already watched");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Status::IoError("epoll_ctl(ADD, fd " + std::to_string(fd) +
                           ") failed: " + ErrnoText(errno));
  }
  // A hang-up or error counts as readable: the reader finds out what happened.
  impl_->watched.emplace(fd, std::make_shared<std::function<void(uint32_t)>>(
                                 [f = std::move(on_ready)](uint32_t events) {
                                   f((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0,
                                     (events & EPOLLOUT) != 0);
                                 }));
  return Status::Ok();
}

Status PosixEventLoop::SetWriteInterest(int fd, bool want) {
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  if (::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return Status::IoError("epoll_ctl(MOD, fd " + std::to_string(fd) +
                           ") failed: " + ErrnoText(errno));
  }
  return Status::Ok();
}

void PosixEventLoop::UnwatchFd(int fd) {
  if (impl_->watched.erase(fd) == 0) return;
  // Failure means the fd was already closed, which removed it from the epoll set anyway.
  ::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
}

void PosixEventLoop::RunUntil(const std::function<bool()>& done) {
  while (!done()) impl_->RunOnePass(/*may_block=*/true);
}

size_t PosixEventLoop::RunReady() {
  return impl_->RunOnePass(/*may_block=*/false);
}

}  // namespace fvd
