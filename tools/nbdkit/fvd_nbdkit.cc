// fvd-nbdkit.so: an nbdkit plugin that exports an FVD image (nbdkit-plugin(3), API version 2).
//
//   nbdkit -U /tmp/fvd.sock ./fvd-nbdkit.so file=disk.fvd [readonly=1] [cache=none]
//          [journal=unbuffered] [journal_buffer=4M] [size=10G] [base=base.raw] [compact=1]
//          [untrusted=1] [allow_storage_cmd=1] [storage_cmd=CMD] [max_metadata_memory=1G]
//
// The image is opened once, when the server is ready (after nbdkit forks into the background),
// on an event-loop thread of its own (ImageServer); nbdkit's worker threads hand it requests.
// All connections share the one image, so a flush on any connection covers every write
// completed before it: multi-conn is safe. A clean nbdkit shutdown closes the image cleanly.
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/util/units.h"
#include "tools/nbdkit/image_server.h"

namespace {

using fvd::nbd::ImageServer;
using fvd::nbd::ServerOptions;

// nbdkit's plugin interface is a set of C callbacks with no user pointer before open: the
// configuration and the one server are the plugin's state, kept in this one place.
struct Plugin {
  ServerOptions options;
  std::unique_ptr<ImageServer> server;
};

Plugin& State() {
  static Plugin state;
  return state;
}

int Fail(const std::string& message, int err = EIO) {
  nbdkit_error("%s", message.c_str());
  errno = err;
  return -1;
}

int ErrnoFor(const fvd::Status& s) {
  switch (s.code()) {
    case fvd::StatusCode::kNoSpace:
      return ENOSPC;
    case fvd::StatusCode::kReadOnly:
      return EROFS;
    case fvd::StatusCode::kInvalidArgument:
      return EINVAL;
    case fvd::StatusCode::kUnsupported:
      return EOPNOTSUPP;
    default:
      return EIO;
  }
}

int FailWith(const fvd::Status& s) {
  return Fail("fvd: " + s.ToString(), ErrnoFor(s));
}

int ParseBool(const char* value, bool& out) {
  const int r = nbdkit_parse_bool(value);
  if (r < 0) return -1;  // nbdkit already said what is wrong
  out = r == 1;
  return 0;
}

int ParseSize(const char* key, const char* value, uint64_t& out) {
  const int64_t r = nbdkit_parse_size(value);
  if (r < 0) return -1;
  if (r == 0 || r % 512 != 0) {
    return Fail(std::string(key) + "=" + value + ": must be a positive multiple of 512", EINVAL);
  }
  out = static_cast<uint64_t>(r);
  return 0;
}

extern "C" int FvdConfig(const char* key, const char* value) {
  ServerOptions& o = State().options;
  const std::string k = key;
  if (k == "file") {
    o.file = value;
    return 0;
  }
  if (k == "readonly") return ParseBool(value, o.read_only);
  if (k == "cache") {
    const std::string v = value;
    if (v != "writeback" && v != "none") {
      return Fail("cache=" + v + ": expected writeback or none", EINVAL);
    }
    o.direct = v == "none";
    return 0;
  }
  if (k == "journal") {
    const std::string v = value;
    if (v != "buffered" && v != "unbuffered") {
      return Fail("journal=" + v + ": expected buffered or unbuffered", EINVAL);
    }
    o.journal = v == "unbuffered" ? fvd::JournalMode::kUnbuffered : fvd::JournalMode::kBuffered;
    return 0;
  }
  if (k == "journal_buffer") return ParseSize(key, value, o.journal_buffer_bytes);
  if (k == "size") {
    o.create = true;
    return ParseSize(key, value, o.create_options.virtual_size);
  }
  if (k == "base") {
    o.create = true;
    o.create_options.base_img = value;
    return 0;
  }
  if (k == "compact") return ParseBool(value, o.create_options.compact_image);
  if (k == "untrusted") return ParseBool(value, o.policy.untrusted);
  if (k == "allow_storage_cmd") return ParseBool(value, o.policy.allow_storage_cmd);
  if (k == "storage_cmd") {
    o.policy.storage_cmd = value;
    return 0;
  }
  if (k == "max_metadata_memory") return ParseSize(key, value, o.max_metadata_memory);
  if (k == "direct_path") return ParseBool(value, o.direct_path);
  if (k == "base_timeout") {
    char* end = nullptr;
    const double secs = std::strtod(value, &end);
    if (end == value || *end != '\0' || !(secs > 0)) {
      return Fail("base_timeout=" + std::string(value) + ": expected a positive number of seconds",
                  EINVAL);
    }
    o.base_timeout =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(secs));
    return 0;
  }
  return Fail("unknown parameter '" + k + "' (nbdkit <plugin> --help lists them)", EINVAL);
}

extern "C" int FvdConfigComplete() {
  if (State().options.file.empty()) return Fail("file=<image.fvd> is required", EINVAL);
  return 0;
}

// Before nbdkit forks: create or check the image, so a bad file stops the server at once.
extern "C" int FvdGetReady() {
  const fvd::Status s = fvd::nbd::PrepareImage(State().options);
  return s.ok() ? 0 : FailWith(s);
}

// Opens the image once nbdkit is ready to serve (after any fork: threads do not survive one).
extern "C" int FvdAfterFork() {
  auto server = ImageServer::Start(State().options);
  if (!server.ok()) return FailWith(server.status());
  State().server = std::move(*server);
  return 0;
}

extern "C" void FvdCleanup() {
  Plugin& p = State();
  if (p.server == nullptr) return;
  const fvd::Status s = p.server->Stop();
  if (!s.ok()) nbdkit_error("fvd: closing the image: %s", s.ToString().c_str());
  p.server.reset();
}

extern "C" void* FvdOpen(int /*readonly*/) {
  // One image for every connection: the handle is the server itself.
  return State().server.get();
}

extern "C" void FvdClose(void* /*handle*/) {}

ImageServer& Server(void* handle) {
  return *static_cast<ImageServer*>(handle);
}

extern "C" int64_t FvdGetSize(void* handle) {
  return static_cast<int64_t>(Server(handle).size());
}

extern "C" int FvdCanWrite(void* handle) {
  return Server(handle).read_only() ? 0 : 1;
}

extern "C" int FvdCanFlush(void*) {
  return 1;
}

extern "C" int FvdCanFua(void*) {
  return NBDKIT_FUA_EMULATE;  // nbdkit follows a FUA write with a flush
}

extern "C" int FvdCanMultiConn(void*) {
  return 1;  // one image behind every connection (see the top of this file)
}

extern "C" int FvdBlockSize(void* /*handle*/, uint32_t* minimum, uint32_t* preferred,
                            uint32_t* maximum) {
  *minimum = 512;  // the core serves whole sectors
  *preferred = 4096;
  *maximum = 0xffffffff;
  return 0;
}

int CheckAligned(uint32_t count, uint64_t offset) {
  if (count % 512 == 0 && offset % 512 == 0) return 0;
  return Fail("request at offset " + std::to_string(offset) + " length " + std::to_string(count) +
                  " is not 512-byte aligned (the export's minimum block size; use "
                  "--filter=blocksize for clients that ignore it)",
              EINVAL);
}

extern "C" int FvdPread(void* handle, void* buf, uint32_t count, uint64_t offset,
                        uint32_t /*flags*/) {
  if (CheckAligned(count, offset) != 0) return -1;
  const fvd::Status s = Server(handle).Read(offset, std::span(static_cast<std::byte*>(buf), count));
  return s.ok() ? 0 : FailWith(s);
}

extern "C" int FvdPwrite(void* handle, const void* buf, uint32_t count, uint64_t offset,
                         uint32_t /*flags*/) {
  if (CheckAligned(count, offset) != 0) return -1;
  const fvd::Status s =
      Server(handle).Write(offset, std::span(static_cast<const std::byte*>(buf), count));
  return s.ok() ? 0 : FailWith(s);
}

extern "C" int FvdFlush(void* handle, uint32_t /*flags*/) {
  const fvd::Status s = Server(handle).Flush();
  return s.ok() ? 0 : FailWith(s);
}

extern "C" int FvdThreadModel() {
  return NBDKIT_THREAD_MODEL_PARALLEL;
}

nbdkit_plugin MakePlugin() {
  nbdkit_plugin p;
  std::memset(&p, 0, sizeof(p));
  p.name = "fvd";
  p.longname = "FVD (Fast Virtual Disk) image";
  p.version = "0.1.0";
  p.description = "Exports an FVD image (copy-on-write over a base image) over NBD";
  p.config = FvdConfig;
  p.config_complete = FvdConfigComplete;
  p.config_help =
      "file=<IMAGE.fvd>      (required) the FVD image; its base and data file are found\n"
      "                      relative to it, as qemu does\n"
      "readonly=true         open the image read-only (the export is then read-only)\n"
      "cache=writeback|none  page cache, or O_DIRECT (default writeback)\n"
      "journal=buffered|unbuffered\n"
      "                      buffered: metadata durable at flush (default); unbuffered:\n"
      "                      every write durable when it completes\n"
      "journal_buffer=<SIZE> buffered journal: records queued before a write-out no flush\n"
      "                      asked for (each flushes the data file first; default 4M)\n"
      "size=<SIZE>           create the image with this virtual size if it is missing\n"
      "base=<BASE>           create the image over this base image if it is missing\n"
      "compact=true          a created image allocates storage on demand\n"
      "untrusted=true        an image from elsewhere: its base and data file must be\n"
      "                      regular files in its own directory, and it runs no command\n"
      "allow_storage_cmd=true  run the header's add_storage_cmd to grow a block device\n"
      "storage_cmd=<CMD>     grow block devices with this command instead\n"
      "max_metadata_memory=<SIZE>  the most memory opening may spend on metadata (1G)\n"
      "base_timeout=<SECONDS>  the longest a remote (NBD) base may take to connect or\n"
      "                      answer a read; then the read fails with EIO (30)\n"
      "direct_path=false     send every request through the image's loop thread (by\n"
      "                      default data the image holds in place is read and written\n"
      "                      on nbdkit's threads directly)";
  p.magic_config_key = "file";
  p.get_ready = FvdGetReady;
  p.after_fork = FvdAfterFork;
  p.cleanup = FvdCleanup;
  p.open = FvdOpen;
  p.close = FvdClose;
  p.get_size = FvdGetSize;
  p.can_write = FvdCanWrite;
  p.can_flush = FvdCanFlush;
  p.can_fua = FvdCanFua;
  p.can_multi_conn = FvdCanMultiConn;
  p.block_size = FvdBlockSize;
  p.pread = FvdPread;
  p.pwrite = FvdPwrite;
  p.flush = FvdFlush;
  p.thread_model = FvdThreadModel;
  p.errno_is_preserved = 1;
  return p;
}

nbdkit_plugin plugin = MakePlugin();

}  // namespace

// The most parallel model nbdkit offers; requests still reach the core one at a time on its loop.
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
NBDKIT_REGISTER_PLUGIN(plugin)
