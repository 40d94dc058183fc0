// libfvd_fio.so: fio's external ioengine interface (ioengines.h, version 31 in Debian's fio
// 3.33) over FvdEngine. The only file that sees fio's headers. See bench/fio/README.md.
//
// fio loads us with --ioengine=external:/abs/path/libfvd_fio.so and calls get_ioengine(). Each
// job thread/process gets its own FvdEngine in td->io_ops_data. The engine is asynchronous:
// queue starts a request and returns FIO_Q_QUEUED, getevents runs our event loop until enough
// requests completed, event hands them back one by one. A read of data in the image is served
// inside queue (FIO_Q_COMPLETED) when it can be: with iodepth=1 by a plain pread, as psync
// serves it; otherwise when the page cache holds it. With iodepth=1 a write that needs no
// metadata is likewise a plain pwrite inside queue.

// Every standard header before fio's: its minmax.h defines min/max macros.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/fio/fvd_engine.h"

extern "C" {
#include "fio.h"
#include "optgroup.h"
}
#undef min
#undef max

namespace {

using fvd::fio::CacheOption;
using fvd::fio::Completion;
using fvd::fio::EngineOptions;
using fvd::fio::FvdEngine;
using fvd::fio::RequestKind;

// fio fills this from the job's engine options (offsets in the option table below). off1 may
// not be 0, hence `pad` first.
struct FioOptions {
  void* pad;
  unsigned int create;
  char* base;
  unsigned long long size;
  unsigned int compact;
  unsigned long long chunk_size;
  unsigned long long block_size;
  unsigned long long journal_size;
  unsigned int copy_on_read;
  unsigned int prefetch_delay;
  unsigned int journal;  // 0 buffered, 1 unbuffered
  unsigned int cache;    // 0 writeback, 1 none
  unsigned int untrusted;
  unsigned int allow_storage_cmd;
  char* storage_cmd;
  unsigned long long max_metadata_memory;
  unsigned int base_timeout;
};

// Per job: the engine and the completions reaped for fio's event() calls.
struct JobData {
  std::unique_ptr<FvdEngine> engine;
  std::vector<Completion> events;
  bool sync = false;  // iodepth=1: queue runs each request to completion
};

JobData* Data(thread_data* td) {
  return static_cast<JobData*>(td->io_ops_data);
}

void LogLine(const std::string& line) {
  log_err("%s\n", line.c_str());
}

EngineOptions CopyOptions(const FioOptions& f) {
  EngineOptions o;
  o.create = f.create != 0;
  if (f.base != nullptr) o.base = f.base;
  o.size = f.size;
  o.compact = f.compact != 0;
  o.chunk_size = f.chunk_size;
  o.block_size = f.block_size;
  o.journal_size = static_cast<int64_t>(f.journal_size);
  o.copy_on_read = f.copy_on_read != 0;
  o.prefetch_delay = f.prefetch_delay == 0 ? -1 : static_cast<int>(f.prefetch_delay);
  o.journal = f.journal == 1 ? fvd::JournalMode::kUnbuffered : fvd::JournalMode::kBuffered;
  o.cache = f.cache == 1 ? CacheOption::kNone : CacheOption::kWriteback;
  o.policy.untrusted = f.untrusted != 0;
  o.policy.allow_storage_cmd = f.allow_storage_cmd != 0;
  o.policy.storage_cmd = f.storage_cmd != nullptr ? f.storage_cmd : "";
  o.max_metadata_memory = f.max_metadata_memory;
  o.base_timeout_s = f.base_timeout;
  return o;
}

int FailJob(thread_data* td, const fvd::Status& s, const char* where) {
  log_err("fvd: %s: %s\n", where, s.ToString().c_str());
  td_verror(td, fvd::fio::ErrnoFor(s), where);
  return 1;
}

extern "C" int FvdInit(thread_data* td) {
  const auto* fo = static_cast<const FioOptions*>(td->eo);
  auto engine = FvdEngine::Create(CopyOptions(*fo), LogLine);
  if (!engine.ok()) return FailJob(td, engine.status(), "init");
  auto* data = new JobData;
  data->engine = std::move(*engine);
  data->events.reserve(td->o.iodepth);
  if (td->o.iodepth == 1) {
    // One request at a time: finish it inside queue and spare fio the getevents round trip.
    data->sync = true;
    td->io_ops->flags |= FIO_SYNCIO;
    td_set_ioengine_flags(td);
  }
  td->io_ops_data = data;
  return 0;
}

extern "C" void FvdCleanup(thread_data* td) {
  delete Data(td);
  td->io_ops_data = nullptr;
}

// The image's size, creating the image first when it is missing. fio asks before init (in
// its main process, before forking the job), so this uses an engine of its own.
extern "C" int FvdGetFileSize(thread_data* td, fio_file* f) {
  if (fio_file_size_known(f)) return 0;
  auto engine = FvdEngine::Create(CopyOptions(*static_cast<const FioOptions*>(td->eo)), LogLine);
  if (!engine.ok()) return FailJob(td, engine.status(), "options");
  auto size = (*engine)->Prepare(f->file_name, td->o.size);
  if (!size.ok()) return FailJob(td, size.status(), f->file_name);
  f->real_file_size = *size;
  fio_file_set_size_known(f);
  return 0;
}

extern "C" int FvdOpenFile(thread_data* td, fio_file* f) {
  const fvd::Status s = Data(td)->engine->Open(f->file_name);
  if (!s.ok()) return FailJob(td, s, f->file_name);
  return 0;
}

extern "C" int FvdCloseFile(thread_data* td, fio_file* f) {
  const fvd::Status s = Data(td)->engine->Close();
  if (!s.ok()) return FailJob(td, s, f->file_name);
  return 0;
}

extern "C" fio_q_status FvdQueue(thread_data* td, io_u* u) {
  fio_ro_check(td, u);
  RequestKind kind;
  switch (u->ddir) {
    case DDIR_READ:
      kind = RequestKind::kRead;
      break;
    case DDIR_WRITE:
      kind = RequestKind::kWrite;
      break;
    case DDIR_SYNC:
    case DDIR_DATASYNC:
    case DDIR_SYNC_FILE_RANGE:
      kind = RequestKind::kFlush;
      break;
    default:  // trim: the core has no discard
      log_err("fvd: %s requests are not supported (the FVD core has no discard)\n",
              io_ddir_name(u->ddir));
      u->error = EOPNOTSUPP;
      return FIO_Q_COMPLETED;
  }
  auto* buf = static_cast<std::byte*>(u->xfer_buf);
  const std::span<std::byte> span(buf, kind == RequestKind::kFlush ? 0 : u->xfer_buflen);
  JobData& d = *Data(td);
  // A sync job (iodepth=1) waits for every read anyway: it may wait in pread, as psync does.
  const fvd::ReadWait wait = d.sync ? fvd::ReadWait::kAllowed : fvd::ReadWait::kNever;
  if (kind == RequestKind::kRead && d.engine->TryReadNow(u->offset, span, wait)) {
    u->error = 0;
    return FIO_Q_COMPLETED;
  }
  // Likewise its writes to data already in the image: a plain pwrite, as psync's.
  if (kind == RequestKind::kWrite && d.sync && d.engine->TryWriteNow(u->offset, span)) {
    u->error = 0;
    return FIO_Q_COMPLETED;
  }
  const fvd::Status s = d.engine->Queue(kind, u->offset, span, u);
  if (!s.ok()) {
    u->error = fvd::fio::ErrnoFor(s);
    return FIO_Q_COMPLETED;
  }
  if (!d.sync) return FIO_Q_QUEUED;
  d.events.clear();
  d.engine->Reap(1, 1, std::nullopt, d.events);
  u->error = static_cast<unsigned int>(d.events.at(0).error);
  return FIO_Q_COMPLETED;
}

extern "C" int FvdGetEvents(thread_data* td, unsigned int min, unsigned int max,
                            const timespec* t) {
  JobData& d = *Data(td);
  d.events.clear();
  std::optional<std::chrono::nanoseconds> timeout;
  if (t != nullptr)
    timeout = std::chrono::seconds(t->tv_sec) + std::chrono::nanoseconds(t->tv_nsec);
  return static_cast<int>(d.engine->Reap(min, max, timeout, d.events));
}

extern "C" io_u* FvdEvent(thread_data* td, int i) {
  const Completion& c = Data(td)->events[static_cast<size_t>(i)];
  auto* u = static_cast<io_u*>(c.cookie);
  u->error = static_cast<unsigned int>(c.error);
  if (c.error == 0) u->resid = 0;
  return u;
}

fio_option MakeOption(const char* name, const char* lname, fio_opt_type type, size_t off,
                      const char* help, const char* def) {
  fio_option o;
  std::memset(&o, 0, sizeof(o));
  o.name = name;
  o.lname = lname;
  o.type = type;
  o.off1 = static_cast<unsigned int>(off);
  o.help = help;
  o.def = def;
  o.category = FIO_OPT_C_ENGINE;
  o.group = FIO_OPT_G_INVALID;
  return o;
}

void SetChoices(fio_option& o, std::initializer_list<std::pair<const char*, const char*>> c) {
  unsigned long long value = 0;
  for (auto [name, help] : c) {
    o.posval[value].ival = name;
    o.posval[value].oval = value;
    o.posval[value].help = help;
    ++value;
  }
}

// The option table: static storage because fio keeps pointers into it for the process's life.
fio_option* Options() {
  static fio_option options[18];
  static bool built = false;
  if (built) return options;
  built = true;
  int i = 0;
  options[i++] = MakeOption("fvd_create", "FVD create", FIO_OPT_BOOL, offsetof(FioOptions, create),
                            "Create the image if the file does not exist", "1");
  options[i++] =
      MakeOption("fvd_base", "FVD base image", FIO_OPT_STR_STORE, offsetof(FioOptions, base),
                 "Base image of a new image (relative to the image's directory)", nullptr);
  options[i++] =
      MakeOption("fvd_size", "FVD virtual size", FIO_OPT_STR_VAL, offsetof(FioOptions, size),
                 "Virtual size of a new image (default: the base's size, else size=)", "0");
  options[i++] =
      MakeOption("fvd_compact", "FVD compact image", FIO_OPT_BOOL, offsetof(FioOptions, compact),
                 "New image allocates storage on demand (chunk table)", "0");
  options[i++] = MakeOption("fvd_chunk_size", "FVD chunk size", FIO_OPT_STR_VAL,
                            offsetof(FioOptions, chunk_size),
                            "Chunk size of a new compact image (0: default 1M)", "0");
  options[i++] = MakeOption("fvd_block_size", "FVD block size", FIO_OPT_STR_VAL,
                            offsetof(FioOptions, block_size),
                            "Bitmap block size of a new image (0: automatic)", "0");
  options[i++] = MakeOption("fvd_journal_size", "FVD journal size", FIO_OPT_STR_VAL,
                            offsetof(FioOptions, journal_size),
                            "Journal size of a new image (0: no journal)", "16m");
  options[i++] = MakeOption("fvd_copy_on_read", "FVD copy-on-read", FIO_OPT_BOOL,
                            offsetof(FioOptions, copy_on_read),
                            "New image copies blocks read from the base into itself", "0");
  options[i++] = MakeOption("fvd_prefetch_delay", "FVD prefetch delay", FIO_OPT_INT,
                            offsetof(FioOptions, prefetch_delay),
                            "New image starts whole-image prefetch this many seconds after "
                            "open (0: never)",
                            "0");
  fio_option journal =
      MakeOption("fvd_journal", "FVD journal mode", FIO_OPT_STR, offsetof(FioOptions, journal),
                 "Journal mode of this run", "buffered");
  SetChoices(journal, {{"buffered", "Metadata collects in memory, written at flush (write-back)"},
                       {"unbuffered",
                        "Every metadata change is durable before its write "
                        "completes (write-through)"}});
  options[i++] = journal;
  fio_option cache =
      MakeOption("fvd_cache", "FVD cache mode", FIO_OPT_STR, offsetof(FioOptions, cache),
                 "Host cache mode of this run", "writeback");
  SetChoices(cache, {{"writeback", "Through the page cache"},
                     {"none", "O_DIRECT: bypass the page cache"}});
  options[i++] = cache;
  options[i++] = MakeOption("fvd_untrusted", "FVD untrusted image", FIO_OPT_BOOL,
                            offsetof(FioOptions, untrusted),
                            "The image comes from elsewhere: its base and data file must be "
                            "regular files in its own directory, and it runs no command",
                            "0");
  options[i++] = MakeOption("fvd_allow_storage_cmd", "FVD add_storage_cmd", FIO_OPT_BOOL,
                            offsetof(FioOptions, allow_storage_cmd),
                            "Run the header's add_storage_cmd when a block device must grow", "0");
  options[i++] = MakeOption(
      "fvd_storage_cmd", "FVD grow command", FIO_OPT_STR_STORE, offsetof(FioOptions, storage_cmd),
      "Grow block devices with this command instead of the header's", nullptr);
  options[i++] = MakeOption("fvd_max_metadata_memory", "FVD metadata memory limit", FIO_OPT_STR_VAL,
                            offsetof(FioOptions, max_metadata_memory),
                            "The most memory opening the image may spend on its metadata", "1g");
  options[i++] =
      MakeOption("fvd_base_timeout", "FVD remote base timeout", FIO_OPT_INT,
                 offsetof(FioOptions, base_timeout),
                 "Seconds a remote (NBD) base may take to connect or answer a read", "30");
  options[i].name = nullptr;
  return options;
}

ioengine_ops& Ops() {
  static ioengine_ops ops;
  static bool built = false;
  if (built) return ops;
  built = true;
  std::memset(&ops, 0, sizeof(ops));
  ops.name = "fvd";
  ops.version = FIO_IOOPS_VERSION;
  // Diskless: fio must not create, lay out or size the file itself; the image is ours.
  // RAWIO: fio page-aligns its buffers, as O_DIRECT (fvd_cache=none) needs.
  ops.flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL | FIO_RAWIO;
  ops.init = FvdInit;
  ops.cleanup = FvdCleanup;
  ops.get_file_size = FvdGetFileSize;
  ops.open_file = FvdOpenFile;
  ops.close_file = FvdCloseFile;
  ops.queue = FvdQueue;
  ops.getevents = FvdGetEvents;
  ops.event = FvdEvent;
  ops.options = Options();
  ops.option_struct_size = sizeof(FioOptions);
  return ops;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void get_ioengine(ioengine_ops** ops) {
  *ops = &Ops();
}
