#include "bench/fio/fvd_engine.h"

#include <sys/stat.h>

#include <cerrno>
#include <deque>
#include <set>

#include "core/image/image_file.h"
#include "tools/host/create_image.h"
#include "tools/host/open_image.h"
#include "tools/host/posix_files.h"

namespace fvd::fio {

int ErrnoFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kNoSpace:
      return ENOSPC;
    case StatusCode::kReadOnly:
      return EROFS;
    case StatusCode::kInvalidArgument:
      return EINVAL;
    case StatusCode::kUnsupported:
      return EOPNOTSUPP;
    case StatusCode::kNotFound:
      return ENOENT;
    default:
      return EIO;
  }
}

struct FvdEngine::State {
  State(EngineOptions o, Logger l, host::PosixFiles f)
      : options(std::move(o)), log(std::move(l)), files(std::move(f)) {}

  // Each distinct message once: a failing device would otherwise flood fio's output.
  void LogOnce(const Status& s) {
    const std::string line = "fvd: " + s.ToString();
    if (logged.insert(line).second && log) log(line);
  }

  EngineOptions options;
  Logger log;
  host::PosixFiles files;
  std::optional<host::OpenedImage> opened;
  std::deque<Completion> ready;
  size_t in_flight = 0;
  uint64_t served_now = 0;  // requests TryReadNow and TryWriteNow served
  std::set<std::string> logged;
};

FvdEngine::FvdEngine(std::unique_ptr<State> state) : state_(std::move(state)) {}

FvdEngine::~FvdEngine() {
  if (state_->opened) (void)Close();
}

Result<std::unique_ptr<FvdEngine>> FvdEngine::Create(EngineOptions options, Logger log) {
  FVD_RETURN_IF_ERROR(ValidateOptions(options));
  FVD_ASSIGN_OR_RETURN(host::PosixFiles files, host::PosixFiles::Create());
  files.set_direct(options.cache == CacheOption::kNone);
  files.set_base_timeout(std::chrono::seconds(options.base_timeout_s));
  // fio's loop does nothing but this job's I/O: write the page cache inline, as psync does.
  files.set_inline_cached_writes(true);
  return std::unique_ptr<FvdEngine>(
      new FvdEngine(std::make_unique<State>(std::move(options), std::move(log), std::move(files))));
}

Result<uint64_t> FvdEngine::Prepare(const std::string& path, uint64_t default_size) {
  State& s = *state_;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    FVD_ASSIGN_OR_RETURN(auto file, s.files.Open(path, OpenMode::kReadOnly));
    auto header = ReadImageHeader(*file, s.files.drive());
    if (!header.ok()) return header.status().WithContext(path);
    return header->virtual_disk_size;
  }
  if (!s.options.create) {
    return Status::NotFound("image '" + path + "' does not exist (and fvd_create=0)");
  }
  const uint64_t size =
      s.options.size != 0 ? s.options.size : (s.options.base.empty() ? default_size : 0);
  if (size == 0 && s.options.base.empty()) {
    return Status::InvalidArgument("cannot create '" + path +
                                   "': give fvd_size=, fvd_base= or fio's size=");
  }
  auto header = host::CreateImage(s.files, path, ToCreateOptions(s.options, size));
  if (!header.ok()) return header.status().WithContext("creating '" + path + "'");
  return header->virtual_disk_size;
}

Status FvdEngine::Open(const std::string& path) {
  State& s = *state_;
  if (s.opened) return Status::InvalidArgument("an image is already open");
  ImageOptions io;
  io.journal_mode = s.options.journal;
  io.max_metadata_memory = s.options.max_metadata_memory;
  FVD_ASSIGN_OR_RETURN(host::OpenedImage opened,
                       host::OpenImage(s.files, path, io, s.options.policy));
  s.opened.emplace(std::move(opened));
  return Status::Ok();
}

Status FvdEngine::Close() {
  State& s = *state_;
  if (!s.opened) return Status::Ok();
  s.files.loop().RunUntil([&] { return s.in_flight == 0; });
  const Status st = host::RunTask(s.files, s.opened->image->Close());
  s.opened.reset();
  return st;
}

Status FvdEngine::Queue(RequestKind kind, uint64_t offset, std::span<std::byte> buf, void* cookie) {
  State& s = *state_;
  if (!s.opened) return Status::InvalidArgument("no image is open");
  Image& image = *s.opened->image;
  auto done = [&s, cookie](Status st) {
    --s.in_flight;
    if (!st.ok()) s.LogOnce(st);
    s.ready.push_back({cookie, ErrnoFor(st)});
  };
  ++s.in_flight;
  switch (kind) {
    case RequestKind::kRead:
      Detach(image.Read(offset, buf), done);
      break;
    case RequestKind::kWrite:
      Detach(image.Write(offset, buf), done);
      break;
    case RequestKind::kFlush:
      Detach(image.Flush(), done);
      break;
  }
  return Status::Ok();
}

bool FvdEngine::TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait) {
  State& s = *state_;
  if (!s.opened || !s.opened->image->TryReadNow(offset, buf, wait)) return false;
  ServedNow();
  return true;
}

bool FvdEngine::TryWriteNow(uint64_t offset, std::span<const std::byte> buf) {
  State& s = *state_;
  if (!s.opened || !s.opened->image->TryWriteNow(offset, buf)) return false;
  ServedNow();
  return true;
}

void FvdEngine::ServedNow() {
  // Requests served at once do not run the loop: every so often, give timers, completions and
  // background work (the journal's flush period, prefetch, copies) a pass without waiting.
  constexpr uint64_t kLoopPassEvery = 64;
  if (++state_->served_now % kLoopPassEvery == 0) state_->files.loop().RunReady();
}

size_t FvdEngine::Reap(size_t min, size_t max, std::optional<std::chrono::nanoseconds> timeout,
                       std::vector<Completion>& out) {
  State& s = *state_;
  // Never wait for more than can come.
  const size_t want = std::min(min, s.ready.size() + s.in_flight);
  bool timed_out = false;
  TimerId timer = 0;
  if (timeout) timer = s.files.loop().ScheduleAfter(*timeout, [&] { timed_out = true; });
  s.files.loop().RunUntil([&] { return s.ready.size() >= want || timed_out; });
  if (timeout && !timed_out) s.files.loop().Cancel(timer);
  size_t n = 0;
  while (n < max && !s.ready.empty()) {
    out.push_back(s.ready.front());
    s.ready.pop_front();
    ++n;
  }
  return n;
}

size_t FvdEngine::in_flight() const {
  return state_->in_flight;
}

}  // namespace fvd::fio
