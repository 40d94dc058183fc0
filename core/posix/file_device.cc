#include "core/posix/file_device.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "core/posix/grow_command.h"

namespace fvd {
namespace {

// O_DIRECT alignment for regular files: the largest logical block size in common use, so it
// is right on 512e and 4Kn disks alike without asking the filesystem.
constexpr uint32_t kDirectFileAlignment = 4096;
// Largest piece one syscall or SQE moves (SQE lengths are 32-bit); bigger requests continue
// exactly like short transfers.
constexpr size_t kMaxChunk = size_t{1} << 30;
// IORING_MAX_ENTRIES: io_uring_queue_init refuses more.
constexpr unsigned kMaxQueueDepth = 32768;

std::string ErrnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

enum class OpKind { kRead, kWrite, kFlush };

// One accepted operation, owned by the backend until its callback is handed to the loop.
struct Op {
  OpKind kind = OpKind::kRead;
  uint64_t offset = 0;
  std::span<std::byte> read_buf;
  std::span<const std::byte> write_buf;
  bool fua = false;
  size_t done = 0;  // bytes transferred so far; short transfers resume from here
  IoCallback callback;

  size_t length() const { return kind == OpKind::kRead ? read_buf.size() : write_buf.size(); }
  size_t NextChunk() const { return std::min(length() - done, kMaxChunk); }
};

Status OpError(const Op& op, const std::string& path, const std::string& reason) {
  if (op.kind == OpKind::kFlush) {
    return Status::IoError("flush (fdatasync) of '" + path + "' failed: " + reason);
  }
  const char* name = op.kind == OpKind::kRead ? "read" : (op.fua ? "FUA write" : "write");
  return Status::IoError(std::string(name) + " of " + std::to_string(op.length()) +
                         " bytes at offset " + std::to_string(op.offset) + " in '" + path +
                         "' failed: " + reason);
}

// Accounts one transfer result (bytes moved, or -errno) to `op`. Returns the final status once
// the op is complete, or nullopt when the remainder must be issued again.
std::optional<Status> Advance(Op& op, int64_t res, const std::string& path) {
  if (res == -EINTR || res == -EAGAIN) return std::nullopt;
  if (res < 0) return OpError(op, path, ErrnoText(static_cast<int>(-res)));
  if (op.kind == OpKind::kFlush) return Status::Ok();
  if (res == 0) {
    if (op.kind == OpKind::kWrite) {
      return OpError(op, path, "no progress after " + std::to_string(op.done) + " bytes");
    }
    // EOF inside size(): the file shrank behind our back. Unwritten bytes read as zeros.
    std::memset(op.read_buf.data() + op.done, 0, op.length() - op.done);
    return Status::Ok();
  }
  op.done += static_cast<size_t>(res);
  if (op.done < op.length()) return std::nullopt;
  return Status::Ok();
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Takes `op`; its callback later runs on the loop thread, never inline from here.
  virtual void Submit(std::unique_ptr<Op> op) = 0;
};

// ---------------------------------------------------------------------------------------------
// Thread pool: blocking syscalls on worker threads, completions posted to the loop.

class PoolBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Create(PosixEventLoop& loop, int fd,
                                                 const std::string& path, unsigned threads) {
    std::unique_ptr<PoolBackend> pool(new PoolBackend(loop, fd, path));
    try {
      for (unsigned i = 0; i < threads; ++i)
        pool->threads_.emplace_back([p = pool.get()] { p->WorkerMain(); });
    } catch (const std::system_error& e) {
      return Status::IoError("cannot start I/O threads for '" + path + "': " + e.what());
    }
    return std::unique_ptr<Backend>(std::move(pool));
  }

  // Finishes queued work (there is none if the owner kept the contract), then joins.
  ~PoolBackend() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  const char* name() const override { return "thread pool"; }

  void Submit(std::unique_ptr<Op> op) override {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(op));
    }
    cv_.notify_one();
  }

 private:
  PoolBackend(PosixEventLoop& loop, int fd, const std::string& path)
      : loop_(loop), fd_(fd), path_(path) {}

  void WorkerMain() {
    while (true) {
      std::unique_ptr<Op> op;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        op = std::move(queue_.front());
        queue_.pop_front();
      }
      Status status = Perform(*op);
      // Only the callback travels: its captures are destroyed on the loop thread.
      loop_.PostFromAnyThread([cb = std::move(op->callback), st = std::move(status)] { cb(st); });
    }
  }

  Status Perform(Op& op) const {
    while (true) {
      int64_t res = 0;
      switch (op.kind) {
        case OpKind::kRead:
          res = ::pread(fd_, op.read_buf.data() + op.done, op.NextChunk(),
                        static_cast<off_t>(op.offset + op.done));
          break;
        case OpKind::kWrite: {
          iovec iov{const_cast<std::byte*>(op.write_buf.data() + op.done), op.NextChunk()};
          res = ::pwritev2(fd_, &iov, 1, static_cast<off_t>(op.offset + op.done),
                           op.fua ? RWF_DSYNC : 0);
          break;
        }
        case OpKind::kFlush:
          res = ::fdatasync(fd_);
          break;
      }
      if (res < 0) res = -errno;
      if (std::optional<Status> final_status = Advance(op, res, path_)) return *final_status;
    }
  }

  PosixEventLoop& loop_;
  const int fd_;
  const std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Op>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------------------------
// io_uring: SQEs submitted at once, CQEs reaped when the ring's eventfd turns readable.

class UringBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Create(PosixEventLoop& loop, int fd,
                                                 const std::string& path, unsigned depth) {
    std::unique_ptr<UringBackend> u(new UringBackend(loop, fd, path, depth));
    const int rc = ::io_uring_queue_init(depth, &u->ring_, 0);
    if (rc < 0) return Status::Unsupported("io_uring_queue_init failed: " + ErrnoText(-rc));
    u->ring_ready_ = true;
    u->event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (u->event_fd_ < 0) return Status::IoError("eventfd failed: " + ErrnoText(errno));
    const int reg = ::io_uring_register_eventfd(&u->ring_, u->event_fd_);
    if (reg < 0) return Status::Unsupported("io_uring_register_eventfd: " + ErrnoText(-reg));
    FVD_RETURN_IF_ERROR(loop.WatchFd(u->event_fd_, [p = u.get()] { p->OnReady(); }));
    u->watching_ = true;
    return std::unique_ptr<Backend>(std::move(u));
  }

  ~UringBackend() override {
    if (retry_timer_ != 0) loop_.Cancel(retry_timer_);
    if (watching_) loop_.UnwatchFd(event_fd_);
    if (ring_ready_) {
      DrainWithoutCallbacks();
      ::io_uring_queue_exit(&ring_);
    }
    if (event_fd_ >= 0) ::close(event_fd_);
  }

  const char* name() const override { return "io_uring"; }

  // Requests submitted in one stretch of the loop's work go to the kernel in one
  // io_uring_enter, at the loop's next pass: batching lets the block layer plug and merge, and
  // saves a system call per request.
  void Submit(std::unique_ptr<Op> op) override {
    backlog_.push_back(std::move(op));
    if (pump_posted_) return;
    pump_posted_ = true;
    loop_.Post([this, alive = std::weak_ptr<bool>(alive_)] {
      if (alive.expired()) return;
      pump_posted_ = false;
      Pump();
    });
  }

 private:
  UringBackend(PosixEventLoop& loop, int fd, const std::string& path, unsigned depth)
      : loop_(loop), fd_(fd), path_(path), depth_(depth) {}

  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for the posted Pump
  bool pump_posted_ = false;

  // Moves backlog into the ring while fewer than `depth_` ops are in flight. Keeping
  // in-flight ops within the SQ size also keeps them within the CQ, so no CQE overflows.
  void Pump() {
    while (in_flight_ < depth_ && !backlog_.empty()) {
      io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;  // SQEs not yet taken by the kernel; SubmitPending retries
      Prepare(sqe, backlog_.front().release());
      backlog_.pop_front();
      ++in_flight_;
      ++unsubmitted_;
    }
    SubmitPending();
  }

  void Prepare(io_uring_sqe* sqe, Op* op) const {
    const uint64_t offset = op->offset + op->done;
    const auto len = static_cast<unsigned>(op->NextChunk());
    switch (op->kind) {
      case OpKind::kRead:
        ::io_uring_prep_read(sqe, fd_, op->read_buf.data() + op->done, len, offset);
        break;
      case OpKind::kWrite:
        ::io_uring_prep_write(sqe, fd_, op->write_buf.data() + op->done, len, offset);
        if (op->fua) sqe->rw_flags = RWF_DSYNC;
        break;
      case OpKind::kFlush:
        ::io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
        break;
    }
    ::io_uring_sqe_set_data(sqe, op);
  }

  void SubmitPending() {
    while (unsubmitted_ > 0) {
      const int rc = ::io_uring_submit(&ring_);
      if (rc == -EINTR) continue;
      if (rc <= 0) {
        // The kernel is short of resources (EAGAIN/EBUSY). The SQEs stay in the ring; try
        // again when a completion frees something, or shortly if nothing is in flight.
        ScheduleRetry();
        return;
      }
      unsubmitted_ -= std::min(unsubmitted_, static_cast<unsigned>(rc));
    }
  }

  void ScheduleRetry() {
    if (retry_timer_ != 0 || in_flight_ > unsubmitted_) return;  // a CQE will call Pump
    retry_timer_ = loop_.ScheduleAfter(std::chrono::milliseconds(1), [this] {
      retry_timer_ = 0;
      Pump();
    });
  }

  void OnReady() {
    uint64_t count = 0;
    // Cleared before reaping so a CQE posted meanwhile re-arms it and is not missed.
    [[maybe_unused]] ssize_t n = ::read(event_fd_, &count, sizeof(count));
    std::vector<std::pair<IoCallback, Status>> finished;
    io_uring_cqe* cqe = nullptr;
    while (::io_uring_peek_cqe(&ring_, &cqe) == 0) {
      auto* op = static_cast<Op*>(::io_uring_cqe_get_data(cqe));
      const int res = cqe->res;
      ::io_uring_cqe_seen(&ring_, cqe);
      --in_flight_;
      std::optional<Status> final_status = Advance(*op, res, path_);
      if (!final_status) {
        // The remainder goes first: new work must not starve a half-done op.
        backlog_.push_front(std::unique_ptr<Op>(op));
        continue;
      }
      finished.emplace_back(std::move(op->callback), std::move(*final_status));
      delete op;
    }
    Pump();
    // Last, and without touching `this` afterwards: a callback may destroy the device.
    for (auto& [cb, status] : finished) cb(std::move(status));
  }

  // Only reached if the owner broke the contract and destroyed the device with I/O in flight:
  // wait so the kernel stops using the caller's buffers before we return. Callbacks are lost.
  void DrainWithoutCallbacks() {
    while (in_flight_ > 0) {
      io_uring_cqe* cqe = nullptr;
      const int rc = ::io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR) return;
      while (::io_uring_peek_cqe(&ring_, &cqe) == 0) {
        delete static_cast<Op*>(::io_uring_cqe_get_data(cqe));
        ::io_uring_cqe_seen(&ring_, cqe);
        --in_flight_;
      }
    }
  }

  PosixEventLoop& loop_;
  const int fd_;
  const std::string path_;
  const unsigned depth_;
  io_uring ring_{};
  bool ring_ready_ = false;
  int event_fd_ = -1;
  bool watching_ = false;
  unsigned in_flight_ = 0;    // SQEs in the ring or the kernel, not yet reaped
  unsigned unsubmitted_ = 0;  // of those, SQEs io_uring_submit has not handed over yet
  std::deque<std::unique_ptr<Op>> backlog_;
  TimerId retry_timer_ = 0;
};

Result<std::unique_ptr<Backend>> MakeBackend(PosixEventLoop& loop, int fd, const std::string& path,
                                             const FileDeviceOptions& options) {
  if (options.backend == IoBackend::kThreadPool) {
    return PoolBackend::Create(loop, fd, path, options.pool_threads);
  }
  Result<std::unique_ptr<Backend>> uring =
      UringBackend::Create(loop, fd, path, options.queue_depth);
  if (uring.ok() || options.backend == IoBackend::kIoUring) return uring;
  return PoolBackend::Create(loop, fd, path, options.pool_threads);
}

Status OpenError(const std::string& path, int err, const FileDeviceOptions& options) {
  const std::string what = "cannot open '" + path + "': " + ErrnoText(err);
  if (err == ENOENT) return Status::NotFound(what);
  if (err == EINVAL && options.cache == CacheMode::kDirect) {
    return Status::Unsupported(what + " (the filesystem may not support O_DIRECT)");
  }
  return Status::IoError(what);
}

Status CheckOptions(const FileDeviceOptions& options) {
  if (options.queue_depth == 0 || options.queue_depth > kMaxQueueDepth) {
    return Status::InvalidArgument("queue_depth must be in [1, " + std::to_string(kMaxQueueDepth) +
                                   "]");
  }
  if (options.pool_threads == 0 && options.backend != IoBackend::kIoUring) {
    return Status::InvalidArgument("pool_threads must be at least 1");
  }
  return Status::Ok();
}

}  // namespace

struct FileDevice::Impl {
  Impl(PosixEventLoop& l, std::string p) : loop(l), path(std::move(p)) {}
  ~Impl() {
    backend.reset();  // joins threads / drains the ring while the fd is still open
    if (fd >= 0) ::close(fd);
  }

  // What O_DIRECT demands of a regular file's offsets, lengths and buffers: the kernel says
  // (statx STATX_DIOALIGN, Linux 6.1+), else the safe kDirectFileAlignment.
  uint32_t FileDirectAlignment() const {
    struct statx stx {};
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0 ||
        (stx.stx_mask & STATX_DIOALIGN) == 0 || stx.stx_dio_offset_align == 0) {
      return kDirectFileAlignment;
    }
    return std::max(stx.stx_dio_offset_align, stx.stx_dio_mem_align);
  }

  // Reads what the descriptor is: size and, for O_DIRECT, the alignment it demands.
  Status Inspect(bool direct) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Status::IoError("fstat '" + path + "': " + ErrnoText(errno));
    if (S_ISREG(st.st_mode)) {
      size = static_cast<uint64_t>(st.st_size);
      alignment = direct ? FileDirectAlignment() : 1;
      return Status::Ok();
    }
    if (!S_ISBLK(st.st_mode)) {
      return Status::InvalidArgument("'" + path + "' is neither a regular file nor a block device");
    }
    block_device = true;
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
      return Status::IoError("BLKGETSIZE64 on '" + path + "': " + ErrnoText(errno));
    }
    int sector = 0;
    if (direct && ::ioctl(fd, BLKSSZGET, &sector) != 0) {
      return Status::IoError("BLKSSZGET on '" + path + "': " + ErrnoText(errno));
    }
    alignment = direct ? static_cast<uint32_t>(sector) : 1;
    return Status::Ok();
  }

  // Runs the grow command, then reads the device's new size into `size_after`.
  Status GrowBlockDevice(uint64_t new_size, uint64_t& size_after) {
    if (grow_command.empty() && !grow_refusal.empty()) return Status::Refused(grow_refusal);
    FVD_RETURN_IF_ERROR(RunGrowCommand(grow_command, path, new_size));
    uint64_t now = 0;
    if (::ioctl(fd, BLKGETSIZE64, &now) != 0) {
      return Status::IoError("BLKGETSIZE64 on '" + path + "' after growing: " + ErrnoText(errno));
    }
    if (now < new_size) {
      return Status::NoSpace("add_storage_cmd '" + grow_command + "' succeeded but '" + path +
                             "' is " + std::to_string(now) + " bytes, short of " +
                             std::to_string(new_size));
    }
    size_after = now;
    return Status::Ok();
  }

  Status Start(std::unique_ptr<Op> op) {
    if (!op->callback) return Status::InvalidArgument("I/O submitted without a callback");
    if (op->kind != OpKind::kFlush && op->length() == 0) {
      // Nothing to transfer, but the completion must still come later from the loop.
      loop.Post([cb = std::move(op->callback)] { cb(Status::Ok()); });
      return Status::Ok();
    }
    if (TryWithoutBlocking(*op)) {
      // Done from the page cache; the completion still comes later from the loop.
      loop.Post([cb = std::move(op->callback)] { cb(Status::Ok()); });
      return Status::Ok();
    }
    backend->Submit(std::move(op));
    return Status::Ok();
  }

  // Page-cache reads and writes usually need no waiting: try them here with RWF_NOWAIT, as a
  // synchronous engine would, and hand the backend only what would block (EAGAIN) or the
  // rest of a short transfer. Saves a ring round trip or a thread handoff per request. Not for
  // O_DIRECT (it always goes to the device) or FUA writes (they wait for the device).
  bool TryWithoutBlocking(Op& op) {
    if (!try_without_blocking || direct_io || op.kind == OpKind::kFlush || op.fua) return false;
    const bool nowait = op.kind == OpKind::kRead ? nowait_reads : nowait_writes;
    const bool blocking_write = op.kind == OpKind::kWrite && !nowait && inline_cached_writes;
    if (!nowait && !blocking_write) return false;
    if (op.kind == OpKind::kRead) return ReadWithoutBlocking(op.offset, op.read_buf, op.done);
    bool unsupported = false;
    // Would block, unsupported or an error: the backend does the rest.
    if (WriteAll(op.offset, op.write_buf, op.done, blocking_write ? 0 : RWF_NOWAIT, unsupported))
      return true;
    if (unsupported) nowait_writes = false;  // ext4 cannot do non-blocking buffered writes
    return false;
  }

  // Writes buf[done..] with pwritev2 and `flags`, advancing `done`; true once all of `buf` is
  // written. False on an error or (RWF_NOWAIT) when it would block, with `done` at what was
  // written; `unsupported` is set when the kernel refused the flags (EOPNOTSUPP). Retries EINTR.
  bool WriteAll(uint64_t offset, std::span<const std::byte> buf, size_t& done, int flags,
                bool& unsupported) {
    while (done < buf.size()) {
      iovec iov{const_cast<std::byte*>(buf.data() + done), std::min(buf.size() - done, kMaxChunk)};
      const ssize_t res = ::pwritev2(fd, &iov, 1, static_cast<off_t>(offset + done), flags);
      if (res < 0 && errno == EINTR) continue;
      if (res < 0 && errno == EOPNOTSUPP) unsupported = true;
      if (res <= 0) return false;
      done += static_cast<size_t>(res);
    }
    return true;
  }

  // Reads buf[done..] from the page cache with RWF_NOWAIT, advancing `done`; true once all of
  // `buf` is read. False if any part would block (or on EOF, an error, no support), with
  // `done` at what was read.
  bool ReadWithoutBlocking(uint64_t offset, std::span<std::byte> buf, size_t& done) {
    while (done < buf.size()) {
      iovec iov{buf.data() + done, std::min(buf.size() - done, kMaxChunk)};
      const ssize_t res = ::preadv2(fd, &iov, 1, static_cast<off_t>(offset + done), RWF_NOWAIT);
      if (res < 0 && errno == EOPNOTSUPP) nowait_reads = false;
      if (res <= 0) return false;
      done += static_cast<size_t>(res);
    }
    return true;
  }

  // FileDevice::TryReadNow.
  bool TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait) {
    if (wait == ReadWait::kAllowed) return ReadWaiting(offset, buf);
    if (!try_without_blocking || direct_io || !nowait_reads) return false;
    size_t done = 0;
    return ReadWithoutBlocking(offset, buf, done);
  }

  // Reads all of `buf` with pread, waiting for the storage; false on an error or EOF.
  bool ReadWaiting(uint64_t offset, std::span<std::byte> buf) {
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t res = ::pread(fd, buf.data() + done, std::min(buf.size() - done, kMaxChunk),
                                  static_cast<off_t>(offset + done));
      if (res < 0 && errno == EINTR) continue;
      if (res <= 0) return false;
      done += static_cast<size_t>(res);
    }
    return true;
  }

  // FileDevice::TryWriteNow: all of `buf`, waiting for the storage (RWF_DSYNC for FUA).
  bool WriteWaiting(uint64_t offset, std::span<const std::byte> buf, bool fua) {
    if (mode == OpenMode::kReadOnly) return false;
    size_t done = 0;
    bool unsupported = false;
    return WriteAll(offset, buf, done, fua ? RWF_DSYNC : 0, unsupported);
  }

  PosixEventLoop& loop;
  const std::string path;
  OpenMode mode = OpenMode::kReadWrite;
  int fd = -1;
  bool block_device = false;
  bool direct_io = false;  // O_DIRECT
  bool try_without_blocking = true;
  bool inline_cached_writes = false;
  bool nowait_reads = true;  // false once the filesystem said EOPNOTSUPP
  bool nowait_writes = true;
  uint64_t size = 0;  // cached; only Resize changes it
  std::string grow_command;
  std::string grow_refusal;  // non-empty: growing is refused, and this says why
  uint32_t alignment = 1;
  std::unique_ptr<Backend> backend;
};

Result<std::unique_ptr<FileDevice>> FileDevice::Open(PosixEventLoop& loop, const std::string& path,
                                                     const FileDeviceOptions& options) {
  FVD_RETURN_IF_ERROR(CheckOptions(options));
  int flags = O_CLOEXEC | (options.mode == OpenMode::kReadOnly ? O_RDONLY : O_RDWR);
  if (options.create) flags |= O_CREAT;
  if (options.cache == CacheMode::kDirect) flags |= O_DIRECT;

  std::unique_ptr<FileDevice> dev(new FileDevice());
  dev->impl_ = std::make_unique<Impl>(loop, path);
  Impl& impl = *dev->impl_;
  impl.mode = options.mode;
  impl.grow_command = options.grow_command;
  impl.direct_io = options.cache == CacheMode::kDirect;
  impl.try_without_blocking = options.try_without_blocking;
  impl.inline_cached_writes = options.inline_cached_writes;
  impl.fd = ::open(path.c_str(), flags, 0644);
  if (impl.fd < 0) return OpenError(path, errno, options);
  FVD_RETURN_IF_ERROR(impl.Inspect(options.cache == CacheMode::kDirect));
  FVD_ASSIGN_OR_RETURN(impl.backend, MakeBackend(loop, impl.fd, path, options));
  return dev;
}

FileDevice::~FileDevice() = default;

uint64_t FileDevice::size() const {
  return impl_->size;
}
uint32_t FileDevice::alignment() const {
  return impl_->alignment;
}
int FileDevice::fd() const {
  return impl_->fd;
}
const char* FileDevice::backend_name() const {
  return impl_->backend->name();
}
const std::string& FileDevice::path() const {
  return impl_->path;
}
bool FileDevice::zero_initialized() const {
  return !impl_->block_device;
}
void FileDevice::set_grow_command(std::string command) {
  impl_->grow_command = std::move(command);
}

void FileDevice::refuse_growth(std::string why) {
  impl_->grow_command.clear();
  impl_->grow_refusal = std::move(why);
}

Status FileDevice::SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()).WithContext(impl_->path));
  auto op = std::make_unique<Op>();
  op->kind = OpKind::kRead;
  op->offset = offset;
  op->read_buf = buf;
  op->callback = std::move(done);
  return impl_->Start(std::move(op));
}

bool FileDevice::TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait) {
  if (!CheckRange(offset, buf.size(), buf.data()).ok()) return false;
  return impl_->TryReadNow(offset, buf, wait);
}

bool FileDevice::TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode mode) {
  if (!CheckRange(offset, buf.size(), buf.data()).ok()) return false;
  return impl_->WriteWaiting(offset, buf, mode == WriteMode::kFua);
}

Status FileDevice::SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                               IoCallback done) {
  if (impl_->mode == OpenMode::kReadOnly) {
    return Status::ReadOnly("write to '" + impl_->path + "', which is open read-only");
  }
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()).WithContext(impl_->path));
  auto op = std::make_unique<Op>();
  op->kind = OpKind::kWrite;
  op->offset = offset;
  op->write_buf = buf;
  op->fua = mode == WriteMode::kFua;
  op->callback = std::move(done);
  return impl_->Start(std::move(op));
}

Status FileDevice::SubmitFlush(IoCallback done) {
  auto op = std::make_unique<Op>();
  op->kind = OpKind::kFlush;
  op->callback = std::move(done);
  return impl_->Start(std::move(op));
}

Status FileDevice::SubmitResize(uint64_t new_size, IoCallback done) {
  if (impl_->mode == OpenMode::kReadOnly) {
    return Status::ReadOnly("resize of '" + impl_->path + "', which is open read-only");
  }
  if (!done) return Status::InvalidArgument("resize submitted without a callback");
  if (new_size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    return Status::InvalidArgument("resize of '" + impl_->path + "' to " +
                                   std::to_string(new_size) + " bytes exceeds off_t");
  }
  Status status;
  uint64_t size_after = new_size;
  if (impl_->block_device) {
    size_after = impl_->size;
    if (new_size > impl_->size) status = impl_->GrowBlockDevice(new_size, size_after);
  } else if (::ftruncate(impl_->fd, static_cast<off_t>(new_size)) != 0) {
    status = Status::IoError("resize (ftruncate) of '" + impl_->path + "' to " +
                             std::to_string(new_size) + " bytes failed: " + ErrnoText(errno));
  }
  // ftruncate is quick enough to run here; the completion still goes through the loop.
  impl_->loop.Post([impl = impl_.get(), size_after, st = std::move(status), cb = std::move(done)] {
    if (st.ok()) impl->size = size_after;
    cb(st);
  });
  return Status::Ok();
}

}  // namespace fvd
