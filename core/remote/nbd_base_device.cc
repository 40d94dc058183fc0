#include "core/remote/nbd_base_device.h"

#include <libnbd.h>
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "core/util/units.h"

namespace fvd::remote {

namespace {

std::string LibnbdError() {
  const char* e = nbd_get_error();
  return e != nullptr ? e : "unknown libnbd error";
}

std::string Seconds(std::chrono::nanoseconds d) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", std::chrono::duration<double>(d).count());
  return b;
}

std::string Range(uint64_t offset, uint64_t length) {
  return "[" + std::to_string(offset) + ", +" + std::to_string(length) + ")";
}

}  // namespace

bool IsNbdUri(std::string_view name) {
  for (std::string_view scheme : {"nbd://", "nbds://", "nbd+unix://", "nbds+unix://",
                                  "nbd+vsock://", "nbds+vsock://"}) {
    if (name.substr(0, scheme.size()) == scheme) return true;
  }
  return false;
}

struct NbdBaseDevice::Impl {
  // One read as the caller asked for it: done when all of its pieces (libnbd commands) are.
  struct Request {
    IoCallback done;
    Status status;
    uint64_t offset = 0, length = 0;
    int pieces_left = 0;
    TimerId timer{};
  };
  // The user data of one libnbd command.
  struct Piece {
    Impl* impl;
    uint64_t id;
  };

  Impl(PosixEventLoop& l, std::string u, NbdBaseOptions o)
      : loop(l), uri(std::move(u)), options(o) {}
  ~Impl() {
    if (pump_scheduled) loop.Cancel(pump_timer);
    Close();
  }

  PosixEventLoop& loop;
  const std::string uri;
  const NbdBaseOptions options;
  nbd_handle* h = nullptr;
  int fd = -1;
  bool want_write = false;
  uint64_t size = 0;
  uint64_t max_request = 0;
  std::string dead;  // why the connection is gone; empty while it is up
  std::string last_error;  // libnbd's, from the last notification that failed
  std::unordered_map<uint64_t, Request> requests;
  uint64_t next_id = 1;
  std::vector<uint64_t> finished;  // requests whose last piece completed, to deliver
  bool pump_scheduled = false;
  TimerId pump_timer{};

  Status Connect() {
    h = nbd_create();
    if (h == nullptr) return Status::IoError("libnbd: " + LibnbdError());
    if (nbd_aio_connect_uri(h, uri.c_str()) == -1) {
      return Status::IoError("cannot connect to the base '" + uri + "': " + LibnbdError());
    }
    const TimePoint deadline = loop.Now() + options.timeout;
    while (nbd_aio_is_ready(h) == 0) {
      if (nbd_aio_is_dead(h) == 1 || nbd_aio_is_closed(h) == 1) {
        return Status::IoError("cannot connect to the base '" + uri + "': " + LibnbdError());
      }
      const Duration left = deadline - loop.Now();
      if (left <= Duration::zero()) {
        return Status::IoError("cannot connect to the base '" + uri + "': no answer within " +
                               Seconds(options.timeout));
      }
      const unsigned dir = nbd_aio_get_direction(h);
      pollfd p{nbd_aio_get_fd(h), 0, 0};
      if (dir & LIBNBD_AIO_DIRECTION_READ) p.events |= POLLIN;
      if (dir & LIBNBD_AIO_DIRECTION_WRITE) p.events |= POLLOUT;
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
      const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000)));
      if (n < 0 && errno != EINTR) return Status::IoError("poll: " + std::string(strerror(errno)));
      if (n <= 0) continue;
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) nbd_aio_notify_read(h);
      if (p.revents & POLLOUT) nbd_aio_notify_write(h);
    }
    const int64_t s = nbd_get_size(h);
    if (s < 0) return Status::IoError("the base '" + uri + "' has no size: " + LibnbdError());
    size = static_cast<uint64_t>(s);
    max_request = options.max_request;
    const int64_t server_max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
    if (server_max > 0) max_request = std::min<uint64_t>(max_request, uint64_t(server_max));
    fd = nbd_aio_get_fd(h);
    return loop.WatchSocket(fd, [this](bool readable, bool writable) { OnSocket(readable, writable); });
  }

  void Close() {
    if (fd >= 0) loop.UnwatchFd(fd);
    fd = -1;
    if (h != nullptr) nbd_close(h);  // no buffer is touched after this
    h = nullptr;
  }

  static int PieceDone(void* user_data, int* error) {
    auto* p = static_cast<Piece*>(user_data);
    Impl& impl = *p->impl;
    auto it = impl.requests.find(p->id);
    if (it == impl.requests.end()) return 1;  // already failed (timeout, dead connection)
    Request& r = it->second;
    if (*error != 0 && r.status.ok()) {
      r.status = Status::IoError("the base '" + impl.uri + "' failed the read of " +
                                 Range(r.offset, r.length) + ": " + std::strerror(*error));
    }
    if (--r.pieces_left == 0) impl.finished.push_back(p->id);
    return 1;  // retire the command
  }
  static void PieceFree(void* user_data) { delete static_cast<Piece*>(user_data); }

  void OnSocket(bool readable, bool writable) {
    if (h == nullptr) return;
    if (readable && nbd_aio_notify_read(h) == -1) last_error = LibnbdError();
    if (writable && nbd_aio_notify_write(h) == -1) last_error = LibnbdError();
    Pump();
  }

  // After libnbd ran: notice a dead connection, deliver what finished (reads it failed for
  // having died fail with why), then ask for writability only while libnbd has something to
  // send.
  void Pump() {
    pump_scheduled = false;
    if (h != nullptr && dead.empty() && (nbd_aio_is_dead(h) == 1 || nbd_aio_is_closed(h) == 1)) {
      dead = "the connection to the base '" + uri + "' was lost (" +
             (last_error.empty() ? LibnbdError() : last_error) +
             "); base reads fail until the image is reopened";
    }
    Deliver();
    if (!dead.empty()) {
      Kill(dead);
      return;
    }
    if (h != nullptr) UpdateInterest();
  }

  void Deliver() {
    std::vector<uint64_t> ids;
    ids.swap(finished);
    for (uint64_t id : ids) {
      auto it = requests.find(id);
      if (it == requests.end()) continue;
      Request r = std::move(it->second);
      requests.erase(it);
      loop.Cancel(r.timer);
      if (!r.status.ok() && !dead.empty()) r.status = Status::IoError(dead);
      r.done(std::move(r.status));
    }
  }

  void UpdateInterest() {
    const bool want = (nbd_aio_get_direction(h) & LIBNBD_AIO_DIRECTION_WRITE) != 0;
    if (want == want_write) return;
    if (loop.SetWriteInterest(fd, want).ok()) want_write = want;
  }

  // The connection is gone: every read in flight fails, and every later one at submit.
  void Kill(const std::string& why) {
    if (dead.empty()) dead = why;
    Close();
    std::unordered_map<uint64_t, Request> failing;
    failing.swap(requests);
    finished.clear();
    for (auto& [id, r] : failing) {
      loop.Cancel(r.timer);
      r.done(Status::IoError(dead));
    }
  }

  void OnTimeout(uint64_t id) {
    auto it = requests.find(id);
    if (it == requests.end()) return;
    Kill("the base '" + uri + "' did not answer the read of " +
         Range(it->second.offset, it->second.length) + " within " + Seconds(options.timeout) +
         "; base reads fail until the image is reopened");
  }

  // Later, from the loop: what a submission found finished or dead is never delivered inline.
  void SchedulePump() {
    if (pump_scheduled) return;
    pump_scheduled = true;
    pump_timer = loop.ScheduleAfter(Duration::zero(), [this] { Pump(); });
  }

  Status Read(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
    if (!dead.empty()) return Status::IoError(dead);
    const uint64_t id = next_id++;
    Request& r = requests[id];
    r.done = std::move(done);
    r.offset = offset;
    r.length = buf.size();
    r.pieces_left = static_cast<int>(DivRoundUp(buf.size(), max_request));
    for (uint64_t at = 0; at < buf.size(); at += max_request) {
      const uint64_t n = std::min<uint64_t>(max_request, buf.size() - at);
      nbd_completion_callback cb{&PieceDone, new Piece{this, id}, &PieceFree};
      if (nbd_aio_pread(h, buf.data() + at, n, offset + at, cb, 0) != -1) continue;
      // Not issued (libnbd freed the piece): the rest is not issued either.
      const std::string why = LibnbdError();
      if (at == 0) {
        requests.erase(id);
        return Status::IoError("the base '" + uri + "' cannot take the read of " +
                               Range(offset, buf.size()) + ": " + why);
      }
      r.status = Status::IoError("the base '" + uri + "' cannot take the read of " +
                                 Range(offset, buf.size()) + ": " + why);
      r.pieces_left -= static_cast<int>(DivRoundUp(buf.size() - at, max_request));
      if (r.pieces_left == 0) finished.push_back(id);
      break;
    }
    r.timer = loop.ScheduleAfter(options.timeout, [this, id] { OnTimeout(id); });
    UpdateInterest();
    if (!finished.empty() || nbd_aio_is_dead(h) == 1) SchedulePump();
    return Status::Ok();
  }
};

NbdBaseDevice::NbdBaseDevice(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NbdBaseDevice::~NbdBaseDevice() = default;

Result<std::unique_ptr<NbdBaseDevice>> NbdBaseDevice::Open(PosixEventLoop& loop,
                                                           const std::string& uri,
                                                           const NbdBaseOptions& options) {
  if (!IsNbdUri(uri)) return Status::InvalidArgument("'" + uri + "' is not an NBD URI");
  auto impl = std::make_unique<Impl>(loop, uri, options);
  FVD_RETURN_IF_ERROR(impl->Connect());
  return std::unique_ptr<NbdBaseDevice>(new NbdBaseDevice(std::move(impl)));
}

std::unique_ptr<NbdBaseDevice> NbdBaseDevice::Unreachable(PosixEventLoop& loop,
                                                          const std::string& uri, uint64_t size,
                                                          const std::string& why) {
  auto impl = std::make_unique<Impl>(loop, uri, NbdBaseOptions{});
  impl->size = size;
  impl->dead = why + "; base reads fail until the image is reopened";
  return std::unique_ptr<NbdBaseDevice>(new NbdBaseDevice(std::move(impl)));
}

uint64_t NbdBaseDevice::size() const {
  return impl_->size;
}

Status NbdBaseDevice::SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()));
  if (buf.empty()) {
    impl_->loop.ScheduleAfter(Duration::zero(), [done = std::move(done)] { done(Status::Ok()); });
    return Status::Ok();
  }
  return impl_->Read(offset, buf, std::move(done));
}

Status NbdBaseDevice::SubmitWrite(uint64_t, std::span<const std::byte>, WriteMode, IoCallback) {
  return Status::ReadOnly("the base '" + impl_->uri + "' is read-only");
}

Status NbdBaseDevice::SubmitFlush(IoCallback done) {
  impl_->loop.ScheduleAfter(Duration::zero(), [done = std::move(done)] { done(Status::Ok()); });
  return Status::Ok();
}

Status NbdBaseDevice::SubmitResize(uint64_t, IoCallback) {
  return Status::ReadOnly("the base '" + impl_->uri + "' is read-only");
}

const std::string& NbdBaseDevice::uri() const {
  return impl_->uri;
}

const std::string& NbdBaseDevice::dead_reason() const {
  return impl_->dead;
}

}  // namespace fvd::remote
