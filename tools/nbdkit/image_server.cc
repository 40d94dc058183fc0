#include "tools/nbdkit/image_server.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <future>
#include <optional>
#include <thread>
#include <type_traits>

#include "core/image/image_file.h"
#include "core/image/wait_list.h"
#include "core/util/io_buffer.h"
#include "tools/host/create_image.h"
#include "tools/host/open_image.h"
#include "tools/host/posix_files.h"
#include "tools/nbdkit/direct_path.h"
#include "tools/nbdkit/record_queue.h"

namespace fvd::nbd {

struct ImageServer::State {
  ServerOptions options;
  std::optional<host::PosixFiles> files;  // created and used on the loop thread only
  std::optional<host::OpenedImage> opened;
  std::unique_ptr<DirectPath> direct;  // null when turned off (ServerOptions::direct_path)
  PosixEventLoop* loop = nullptr;      // set once open; PostFromAnyThread is thread-safe
  std::thread thread;
  bool stop = false;  // loop thread only
  Status close_status;
  uint64_t size = 0;
  bool stopped = false;  // caller side: Stop ran
  std::atomic<uint64_t> direct_reads{0}, direct_writes{0}, loop_reads{0}, loop_writes{0};
  std::atomic<uint64_t> direct_allocating_writes{0};
  // Direct allocating writes not yet recorded (record_queue.h). Of those taken, the records
  // that had to wait (Image::RecordHostWrite), and the first failure of one: loop thread only.
  // A flush waits for them and fails after a failure.
  static constexpr size_t kRecordsBeforeWake = 256;
  RecordQueue to_record{kRecordsBeforeWake};
  std::vector<ByteRange> taken;  // loop thread: the last ranges taken, its buffer reused
  uint64_t records_waiting = 0;
  WaitList records_done;
  Status record_error;

  // Runs on the loop thread: create if asked, open; then serve until Stop.
  void Main(std::promise<Status>& opened_promise) {
    Status s = OpenOrCreate();
    opened_promise.set_value(s);
    if (!s.ok()) return;
    loop->RunUntil([this] { return stop; });
  }

  Status OpenOrCreate() {
    FVD_ASSIGN_OR_RETURN(host::PosixFiles f, host::PosixFiles::Create());
    files.emplace(std::move(f));
    struct stat st {};
    if (::stat(options.file.c_str(), &st) != 0) {
      if (!options.create) {
        return Status::NotFound("image '" + options.file +
                                "' does not exist (give size= or base= to create it)");
      }
      auto h = host::CreateImage(*files, options.file, options.create_options);
      if (!h.ok()) return h.status().WithContext("creating '" + options.file + "'");
    }
    files->set_direct(options.direct);
    files->set_base_timeout(options.base_timeout);
    ImageOptions io;
    io.access = options.read_only ? AccessMode::kReadOnly : AccessMode::kReadWrite;
    io.journal_mode = options.journal;
    if (options.journal_buffer_bytes != 0) io.journal_buffer_bytes = options.journal_buffer_bytes;
    io.max_metadata_memory = options.max_metadata_memory;
    io.on_metadata_error = [this] {
      if (direct) direct->RefuseWrites();
    };
    FVD_ASSIGN_OR_RETURN(host::OpenedImage o,
                         host::OpenImage(*files, options.file, io, options.policy));
    opened.emplace(std::move(o));
    // A journal corrupt beyond replay leaves the image read-only: so is the export.
    if (!opened->image->open_warning().empty()) options.read_only = true;
    size = opened->image->size();
    loop = &files->loop();
    if (options.direct_path) FVD_RETURN_IF_ERROR(StartDirectPath());
    return Status::Ok();
  }

  Status StartDirectPath() {
    const FileDevice& data = opened->data_file ? *opened->data_file : *opened->image_file;
    const int fd = ::fcntl(data.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Status::IoError("dup of the data file's descriptor failed");
    direct = std::make_unique<DirectPath>(
        *opened->image, fd, options.journal == JournalMode::kUnbuffered, !options.read_only);
    direct->LearnAll(*opened->image);
    return Status::Ok();
  }

  // Loop thread, after a request the loop served: what of its range is now in place.
  void Learn(uint64_t offset, uint64_t length) {
    if (direct) direct->Learn(*opened->image, offset, length);
  }

  // Loop thread: records the writes workers did themselves (DirectPath::WriteAllocating).
  void RecordQueued() {
    to_record.TakeAll(taken);
    for (const ByteRange& r : taken) Record(r.offset, r.length);
  }
  void Record(uint64_t offset, uint64_t length);

  // Posts `make()` (a Task<Status> factory run on the loop thread) and waits for its result.
  // `now()`, when given, runs first on the loop thread: true means the request was done there
  // (Image::TryReadNow, TryWriteNow) and no task is needed.
  template <typename MakeTask, typename Now = bool (*)()>
  Status Call(MakeTask make, Now now = nullptr) {
    std::promise<Status> done;
    auto result = done.get_future();
    loop->PostFromAnyThread([&] {
      RecordQueued();  // first what workers wrote themselves: this request may follow it
      if constexpr (!std::is_same_v<Now, bool (*)()>) {
        if (now()) return done.set_value(Status::Ok());
      }
      Detach(make(), [&done](Status s) { done.set_value(std::move(s)); });
    });
    return result.get();
  }
};

Status PrepareImage(const ServerOptions& options) {
  FVD_ASSIGN_OR_RETURN(host::PosixFiles files, host::PosixFiles::Create());
  files.set_base_timeout(options.base_timeout);
  struct stat st {};
  if (::stat(options.file.c_str(), &st) != 0) {
    if (!options.create) {
      return Status::NotFound("image '" + options.file +
                              "' does not exist (give size= or base= to create it)");
    }
    auto h = host::CreateImage(files, options.file, options.create_options);
    return h.ok() ? Status::Ok() : h.status().WithContext("creating '" + options.file + "'");
  }
  FVD_ASSIGN_OR_RETURN(auto file, files.Open(options.file, OpenMode::kReadOnly));
  auto h = ReadImageHeader(*file, files.drive());
  if (!h.ok()) return h.status().WithContext(options.file);
  // What opening would refuse, refused now: the names the header gives, and its memory.
  if (h->has_base() && !h->all_data_in_image()) {
    FVD_RETURN_IF_ERROR(
        host::ResolveNamedFile(options.file, "base_img", h->base_img, options.policy)
            .status()
            .WithContext(options.file));
  }
  if (!h->data_file.empty()) {
    FVD_RETURN_IF_ERROR(
        host::ResolveNamedFile(options.file, "data_file", h->data_file, options.policy)
            .status()
            .WithContext(options.file));
  }
  return format::CheckMetadataMemory(*h, options.max_metadata_memory).WithContext(options.file);
}

namespace {

// On the loop thread: a clean close, then the loop thread leaves its loop.
Task<Status> CloseAndStop(ImageServer::State& s) {
  Status st = co_await s.opened->image->Close();
  s.stop = true;
  co_return st;
}

}  // namespace

ImageServer::ImageServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

ImageServer::~ImageServer() {
  (void)Stop();
}

Result<std::unique_ptr<ImageServer>> ImageServer::Start(const ServerOptions& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  std::promise<Status> opened;
  auto result = opened.get_future();
  State* s = state.get();
  s->thread = std::thread([s, &opened] { s->Main(opened); });
  const Status st = result.get();
  if (!st.ok()) {
    s->thread.join();
    return st;
  }
  return std::unique_ptr<ImageServer>(new ImageServer(std::move(state)));
}

namespace {

// O_DIRECT needs buffers aligned in memory, and nbdkit's are not: such a request goes through
// an aligned copy, made on the caller's thread.
bool NeedsBounce(const ServerOptions& o, const void* buf) {
  return o.direct && reinterpret_cast<uintptr_t>(buf) % kIoBufferAlignment != 0;
}

Task<Status> ReadAndLearn(ImageServer::State& s, uint64_t offset, std::span<std::byte> buf) {
  Status st = co_await s.opened->image->Read(offset, buf);
  if (st.ok()) s.Learn(offset, buf.size());
  co_return st;
}

Task<Status> WriteAndLearn(ImageServer::State& s, uint64_t offset, std::span<const std::byte> buf) {
  Status st = co_await s.opened->image->Write(offset, buf);
  if (st.ok()) s.Learn(offset, buf.size());
  co_return st;
}

Task<Status> RecordAndLearn(ImageServer::State& s, uint64_t offset, uint64_t length) {
  Status st = co_await s.opened->image->RecordHostWrite(offset, length);
  if (st.ok()) s.Learn(offset, length);
  co_return st;
}

// A flush covers every write reported done before it, so first the records still waiting.
Task<Status> FlushAfterRecords(ImageServer::State& s) {
  while (s.records_waiting > 0) co_await s.records_done.Wait();
  Status st = co_await s.opened->image->Flush();
  if (st.ok()) st = s.record_error;
  co_return st;
}

}  // namespace

void ImageServer::State::Record(uint64_t offset, uint64_t length) {
  if (opened->image->TryRecordHostWriteNow(offset, length)) return Learn(offset, length);
  ++records_waiting;
  Detach(RecordAndLearn(*this, offset, length), [this](Status st) {
    // The write was reported done: its loss can only be told by the flushes from now on.
    if (!st.ok() && record_error.ok()) {
      record_error = st.WithContext("recording a write an nbdkit thread made");
    }
    if (--records_waiting == 0) records_done.NotifyAll(*loop);
  });
}

// Data the image holds in place goes direct (one pread on this thread); the rest goes to the
// loop thread, where a read the page cache holds is one pread (TryReadNow), else a task.
Status ImageServer::Read(uint64_t offset, std::span<std::byte> buf) {
  State& s = *state_;
  if (NeedsBounce(s.options, buf.data())) {
    UninitializedIoBuffer bounce(buf.size());
    FVD_RETURN_IF_ERROR(Read(offset, bounce));
    std::copy(bounce.begin(), bounce.end(), buf.begin());
    return Status::Ok();
  }
  if (s.direct) {
    if (auto done = s.direct->Read(offset, buf)) {
      s.direct_reads.fetch_add(1, std::memory_order_relaxed);
      return *done;
    }
  }
  s.loop_reads.fetch_add(1, std::memory_order_relaxed);
  return s.Call([&s, offset, buf] { return ReadAndLearn(s, offset, buf); },
                [&s, offset, buf] {
                  if (!s.opened->image->TryReadNow(offset, buf, ReadWait::kNever)) return false;
                  s.Learn(offset, buf.size());
                  return true;
                });
}

// Writes in place go direct; on the loop thread, writes the page cache takes (and allocating
// ones the buffered journal records in memory) are done right there, as fio's sync jobs do.
Status ImageServer::Write(uint64_t offset, std::span<const std::byte> buf) {
  State& s = *state_;
  if (NeedsBounce(s.options, buf.data())) {
    UninitializedIoBuffer bounce(buf.begin(), buf.end());
    return Write(offset, bounce);
  }
  if (s.direct) {
    if (auto done = s.direct->Write(offset, buf)) {
      s.direct_writes.fetch_add(1, std::memory_order_relaxed);
      return *done;
    }
    // Whole blocks of an overlay: written here, recorded by the loop later. Queued before the
    // reply, so whatever the client sends next reaches the loop after it (record_queue.h).
    if (auto done = s.direct->WriteAllocating(offset, buf)) {
      if (!done->ok()) return *done;
      s.direct_allocating_writes.fetch_add(1, std::memory_order_relaxed);
      if (s.to_record.Push(offset, buf.size()))
        s.loop->PostFromAnyThread([&s] { s.RecordQueued(); });
      return Status::Ok();
    }
  }
  s.loop_writes.fetch_add(1, std::memory_order_relaxed);
  return s.Call([&s, offset, buf] { return WriteAndLearn(s, offset, buf); },
                [&s, offset, buf] {
                  if (!s.opened->image->TryWriteNow(offset, buf)) return false;
                  s.Learn(offset, buf.size());
                  return true;
                });
}

// Direct writes never reached the core: their data is synced here first.
Status ImageServer::Flush() {
  if (state_->direct) FVD_RETURN_IF_ERROR(state_->direct->SyncIfWritten());
  return state_->Call([&] { return FlushAfterRecords(*state_); });
}

Status ImageServer::Stop() {
  State& s = *state_;
  if (s.stopped) return s.close_status;
  s.stopped = true;
  // Close waits for requests in flight, then the loop thread leaves its loop.
  s.close_status = s.Call([&s] { return CloseAndStop(s); });
  s.thread.join();
  s.opened.reset();
  s.files.reset();
  return s.close_status;
}

ServerStats ImageServer::stats() const {
  const State& s = *state_;
  return {s.direct_reads.load(), s.direct_writes.load(), s.loop_reads.load(), s.loop_writes.load(),
          s.direct_allocating_writes.load()};
}

uint64_t ImageServer::size() const {
  return state_->size;
}

bool ImageServer::read_only() const {
  return state_->options.read_only;
}

}  // namespace fvd::nbd
