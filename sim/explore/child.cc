#include "sim/explore/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace fvd::sim::explore {
namespace {

constexpr size_t kErrTail = 16 * 1024;

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// Reads what a non-blocking pipe holds into `into`; closes it at EOF (fd becomes -1).
void Drain(int& fd, std::string& into, size_t keep_tail) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      if (keep_tail != 0 && into.size() > 2 * keep_tail) into.erase(0, into.size() - keep_tail);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    ::close(fd);  // EOF, or an error that ends the stream the same way
    fd = -1;
    return;
  }
}

}  // namespace

std::string SelfPath() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("fvdsim") : p.string();
}

ChildPool::~ChildPool() {
  for (Child& c : children_) {
    ::kill(c.pid, SIGKILL);
    if (c.out_fd >= 0) ::close(c.out_fd);
    if (c.err_fd >= 0) ::close(c.err_fd);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
  }
}

Status ChildPool::Start(uint64_t id, const std::vector<std::string>& argv,
                        std::chrono::milliseconds timeout) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return Status::IoError("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  const auto now = std::chrono::steady_clock::now();
  children_.push_back({id, pid, out[0], err[0], now, now + timeout, false, {}, {}});
  return Status::Ok();
}

int ChildPool::PollOnce() {
  std::vector<pollfd> fds;
  auto nearest = std::chrono::steady_clock::time_point::max();
  for (const Child& c : children_) {
    if (c.out_fd >= 0) fds.push_back({c.out_fd, POLLIN, 0});
    if (c.err_fd >= 0) fds.push_back({c.err_fd, POLLIN, 0});
    if (!c.timed_out) nearest = std::min(nearest, c.deadline);
  }
  const auto now = std::chrono::steady_clock::now();
  int wait_ms = -1;
  if (nearest != std::chrono::steady_clock::time_point::max()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(nearest - now).count();
    wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
  }
  ::poll(fds.data(), fds.size(), wait_ms);
  const auto after = std::chrono::steady_clock::now();
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    if (c.out_fd >= 0) Drain(c.out_fd, c.out, 0);
    if (c.err_fd >= 0) Drain(c.err_fd, c.err, kErrTail);
    if (!c.timed_out && after >= c.deadline) {
      ::kill(c.pid, SIGKILL);
      c.timed_out = true;
    }
    if (c.out_fd < 0 && c.err_fd < 0) return static_cast<int>(i);
  }
  return -1;
}

ChildResult ChildPool::Reap(size_t index) {
  Child c = std::move(children_[index]);
  children_.erase(children_.begin() + static_cast<ptrdiff_t>(index));
  int status = 0;
  rusage usage{};
  while (::wait4(c.pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  ChildResult r;
  r.id = c.id;
  r.timed_out = c.timed_out;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = std::move(c.out);
  r.err_tail = c.err.size() > kErrTail ? c.err.substr(c.err.size() - kErrTail) : std::move(c.err);
  r.cpu_s = Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - c.start).count();
  return r;
}

ChildResult ChildPool::Next() {
  for (;;) {
    const int done = PollOnce();
    if (done >= 0) return Reap(static_cast<size_t>(done));
  }
}

}  // namespace fvd::sim::explore
