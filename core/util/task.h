// Task<T>: the coroutine type of core's request paths, so that one request's steps read top to
// bottom (ARCHITECTURE.md, "The seam"). Single-threaded: tasks run on their owner's event loop.
//
// - A Task is lazy: it starts when awaited (co_await task) or detached (Detach).
// - Awaiting a Task runs it and resumes the awaiter with its result when it finishes
//   (symmetric transfer, so long chains do not grow the stack).
// - Detach(task, done) starts a task that nobody awaits and calls done(result) at the end; the
//   frame frees itself.
// - Exceptions are not used in core/: an escaping exception terminates.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "core/util/status.h"

namespace fvd {

template <typename T>
class Task;

namespace task_detail {

template <typename T>
struct PromiseBase {
  std::coroutine_handle<> continuation;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      auto next = h.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { std::terminate(); }
};

template <typename T>
struct Promise : PromiseBase<T> {
  std::optional<T> value;
  Task<T> get_return_object();
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() { return std::move(*value); }
};

template <>
struct Promise<void> : PromiseBase<void> {
  Task<void> get_return_object();
  void return_void() noexcept {}
  void take() {}
};

}  // namespace task_detail

template <typename T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = task_detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle h) : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    h_.promise().continuation = awaiter;
    return h_;
  }
  T await_resume() { return h_.promise().take(); }

 private:
  Handle h_;
};

namespace task_detail {

template <typename T>
Task<T> Promise<T>::get_return_object() {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// An eager coroutine that destroys itself when it ends: the root of a detached task.
struct DetachedCoroutine {
  struct promise_type {
    DetachedCoroutine get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <typename T, typename Done>
DetachedCoroutine RunDetached(Task<T> task, Done done) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    done();
  } else {
    done(co_await std::move(task));
  }
}

}  // namespace task_detail

// Starts `task` now (it runs until its first suspension before Detach returns) and calls
// `done(result)` (or `done()` for Task<void>) when it ends.
template <typename T, typename Done>
void Detach(Task<T> task, Done done) {
  task_detail::RunDetached(std::move(task), std::move(done));
}

// A seam operation as an awaitable: `submit(callback)` starts it and returns a Status; if that
// is an error the awaiter resumes at once with it, else it resumes with the Status the callback
// receives. The seam never runs the callback inline from submit, which is what makes resuming
// from the callback safe. Usage: Status s = co_await AwaitIo([&](IoCallback cb) {
//   return dev.SubmitRead(off, buf, std::move(cb)); });
template <typename Submit>
class IoAwaiter {
 public:
  explicit IoAwaiter(Submit submit) : submit_(std::move(submit)) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    Status s = submit_([this, h](Status result) {
      result_ = std::move(result);
      h.resume();
    });
    if (!s.ok()) {
      result_ = std::move(s);
      return false;  // resume now
    }
    return true;
  }
  Status await_resume() { return std::move(result_); }

 private:
  Submit submit_;
  Status result_;
};

template <typename Submit>
IoAwaiter<Submit> AwaitIo(Submit submit) {
  return IoAwaiter<Submit>(std::move(submit));
}

}  // namespace fvd

// In a coroutine returning Task<Status> or Task<Result<T>>: co_return the Status of `expr`
// when it is not OK.
#define FVD_CO_RETURN_IF_ERROR(expr)                    \
  do {                                                  \
    ::fvd::Status fvd_co_status_ = (expr);              \
    if (!fvd_co_status_.ok()) co_return fvd_co_status_; \
  } while (0)
