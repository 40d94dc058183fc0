// fvd-img bench: qemu-img bench for FVD images, with its options and its output, so one
// command line measures FVD here and raw or qcow2 through qemu-img:
//   fvd-img bench [-c COUNT] [-d DEPTH] [-f fvd] [-i AIO] [-n] [-o OFFSET] [-q] [-s BUFFER_SIZE]
//                 [-S STEP_SIZE] [-t CACHE] [-w] [--pattern=PATTERN] FILENAME
// `depth` coroutines share one request counter on the tool's event loop (io_uring, or a thread
// pool), each with its own aligned buffer. The time covers the requests only, not opening or
// closing the image (qemu-img bench measures the same span).
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "core/util/io_buffer.h"
#include "core/util/units.h"
#include "tools/fvd-img/bench_plan.h"
#include "tools/fvd-img/commands.h"
#include "tools/host/open_image.h"

namespace fvd::img {

using host::OpenImage;
using host::PosixFiles;
namespace {

struct BenchArgs {
  std::string count = "75000", depth = "64", offset = "0", buffer_size = "4K", step = "0";
  std::string format = "fvd", cache = "writeback", aio, pattern = "0", filename;
  bool native = false, quiet = false, write = false;
};

int BenchFail(const std::string& message) {
  std::cout.flush();
  std::cerr << "fvd-img bench: " << message << "\n";
  return 1;
}

// The requests in flight and what they found.
struct BenchRun {
  const BenchPlan& plan;
  Image& image;
  uint64_t issued = 0;
  uint64_t workers_left = 0;
  Status error;
};

Task<void> Worker(BenchRun& run, IoBuffer buf) {
  while (run.issued < run.plan.count && run.error.ok()) {
    const uint64_t at = BenchRequestOffset(run.plan, run.issued++);
    Status s;
    if (run.plan.write) {
      s = co_await run.image.Write(at, buf);
    } else {
      s = co_await run.image.Read(at, buf);
    }
    if (!s.ok() && run.error.ok()) {
      run.error = s.WithContext("request at offset " + std::to_string(at));
    }
  }
  --run.workers_left;
}

// Depth 1: the tool waits for every request anyway, so a request the image can do right here
// is done here (Image::TryWriteNow, Image::TryReadNow allowed to wait: psync's pwrite and
// pread), and only the others run on the loop. Every 64th request done here also gives the
// loop a pass (the journal timer, background write-outs). -i turns it off.
Result<double> RunOneAtATime(PosixFiles& files, Image& image, const BenchPlan& plan) {
  IoBuffer buf(plan.buffer_size, std::byte{plan.pattern});
  constexpr uint64_t kLoopPassEvery = 64;
  uint64_t done_here = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < plan.count; ++i) {
    const uint64_t at = BenchRequestOffset(plan, i);
    const bool here =
        plan.write ? image.TryWriteNow(at, buf) : image.TryReadNow(at, buf, ReadWait::kAllowed);
    if (here) {
      if (++done_here % kLoopPassEvery == 0) files.loop().RunReady();
      continue;
    }
    Status s = plan.write ? host::RunTask(files, image.Write(at, buf))
                          : host::RunTask(files, image.Read(at, buf));
    if (!s.ok()) return s.WithContext("request at offset " + std::to_string(at));
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return took.count();
}

// Runs the plan; returns the seconds it took.
Result<double> RunPlan(PosixFiles& files, Image& image, const BenchPlan& plan) {
  if (plan.depth == 1 && !plan.through_aio) return RunOneAtATime(files, image, plan);
  BenchRun run{.plan = plan, .image = image, .issued = 0, .workers_left = 0, .error = {}};
  const uint64_t workers = plan.depth < plan.count ? plan.depth : plan.count;
  run.workers_left = workers;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t w = 0; w < workers; ++w) {
    IoBuffer buf(plan.buffer_size, std::byte{plan.pattern});
    Detach(Worker(run, std::move(buf)), [] {});
  }
  files.loop().RunUntil([&] { return run.workers_left == 0; });
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (!run.error.ok()) return run.error;
  return took.count();
}

Result<uint64_t> ParseCount(const char* what, const std::string& text) {
  auto v = ParseByteSize(text);  // qemu-img takes suffixes in counts too
  if (!v.ok()) return v.status().WithContext(what);
  return *v;
}

// --pattern as qemu-img takes it: decimal, or hex with 0x.
Result<uint8_t> ParsePattern(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(text.c_str(), &end, 0);
  if (text.empty() || *end != '\0' || errno != 0 || v > 255 || text[0] == '-') {
    return Status::InvalidArgument("--pattern " + text + " is not a byte (0-255, or 0x00-0xff)");
  }
  return static_cast<uint8_t>(v);
}

Result<BenchPlan> PlanFor(const BenchArgs& a) {
  BenchPlan p;
  FVD_ASSIGN_OR_RETURN(p.count, ParseCount("-c (count)", a.count));
  FVD_ASSIGN_OR_RETURN(p.depth, ParseCount("-d (depth)", a.depth));
  FVD_ASSIGN_OR_RETURN(p.offset, ParseCount("-o (offset)", a.offset));
  FVD_ASSIGN_OR_RETURN(p.buffer_size, ParseCount("-s (buffer size)", a.buffer_size));
  FVD_ASSIGN_OR_RETURN(p.step, ParseCount("-S (step size)", a.step));
  FVD_ASSIGN_OR_RETURN(p.pattern, ParsePattern(a.pattern));
  p.write = a.write;
  p.through_aio = !a.aio.empty();
  return p;
}

// qemu's cache modes: none and directsync bypass the page cache (O_DIRECT); writethrough and
// directsync journal every metadata update before the write completes (the unbuffered journal).
ImageOptions OptionsFor(const BenchArgs& a) {
  ImageOptions o;
  o.access = a.write ? AccessMode::kReadWrite : AccessMode::kReadOnly;
  const bool through = a.cache == "writethrough" || a.cache == "directsync";
  o.journal_mode = through ? JournalMode::kUnbuffered : JournalMode::kBuffered;
  return o;
}

int RunBench(const BenchArgs& a, const OpeningArgs& opening) {
  if (a.format != "fvd") {
    return BenchFail("-f " + a.format +
                     ": fvd-img benches FVD images only (use qemu-img bench "
                     "for raw and qcow2)");
  }
  auto plan = PlanFor(a);
  if (!plan.ok()) return BenchFail(plan.status().message());
  auto files = PosixFiles::Create();
  if (!files.ok()) return BenchFail(files.status().ToString());
  auto size = host::ReadDiskSize(*files, a.filename);
  if (!size.ok()) return BenchFail(a.filename + ": " + size.status().ToString());
  plan->disk_size = *size;
  if (Status s = ValidateBenchPlan(*plan); !s.ok()) return BenchFail(s.message());
  files->set_direct(a.cache == "none" || a.cache == "directsync");
  // The loop does nothing but the bench's I/O: page-cache writes the filesystem cannot do
  // without blocking (ext4) are done right there, as a synchronous tool would, instead of by a
  // kernel worker thread per write. More workers would not write in parallel anyway: buffered
  // writes to one file hold its inode lock (ext4, XFS). The fio plugin does the same. -i turns
  // it off.
  files->set_inline_cached_writes(a.aio.empty());
  // -i threads: the thread pool, whose pread/pwrite/fdatasync calls strace can count.
  if (a.aio == "threads") files->set_backend(IoBackend::kThreadPool);
  if (a.aio == "io_uring" || a.aio == "native") files->set_backend(IoBackend::kIoUring);
  ImageOptions options = OptionsFor(a);
  if (Status s = opening.ApplyTo(options, *files); !s.ok()) return BenchFail(s.message());
  auto opened = OpenImage(*files, a.filename, options, opening.policy());
  if (!opened.ok()) return BenchFail(a.filename + ": " + opened.status().ToString());
  if (!a.quiet) std::cout << BenchBanner(*plan) << std::endl;
  auto took = RunPlan(*files, *opened->image, *plan);
  Status closed;
  if (a.write) closed = host::RunTask(*files, opened->image->Close());
  if (!took.ok()) return BenchFail(took.status().ToString());
  if (!closed.ok()) return BenchFail(a.filename + ": close: " + closed.ToString());
  if (!a.quiet) std::cout << BenchCompleted(*took) << "\n";
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Run a simple sequential I/O benchmark (qemu-img bench's options and output)");
  cmd->footer(
      "COUNT requests of BUFFER_SIZE bytes, DEPTH in flight, the first at OFFSET and each next\n"
      "one STEP_SIZE further, wrapping at the end of the disk. Sizes take suffixes (4K, 1M).\n"
      "Cache modes: writeback (default) and writethrough use the page cache, none and\n"
      "directsync O_DIRECT; writethrough and directsync use the unbuffered journal.");
  cmd->add_option("-c,--count", a->count, "Requests in all (default 75000)");
  cmd->add_option("-d,--depth", a->depth, "Requests in flight (default 64)");
  cmd->add_option("-f,--format", a->format, "Image format: fvd only");
  cmd->add_flag("-n,--native", a->native,
                "Native AIO (accepted: fvd-img always uses io_uring when the kernel has it)");
  cmd->add_option("-i,--aio", a->aio,
                  "I/O backend: threads (a thread pool), io_uring or native (both io_uring); "
                  "default io_uring when the kernel has it, with page-cache writes done "
                  "inline and, at depth 1, every request the image can do right away done "
                  "synchronously, as psync would (given -i: every request goes to the backend)")
      ->check(CLI::IsMember({"threads", "io_uring", "native"}));
  cmd->add_option("-o,--offset", a->offset, "Offset of the first request (default 0)");
  cmd->add_flag("-q,--quiet", a->quiet, "Print nothing");
  cmd->add_option("-s,--buffer-size", a->buffer_size, "Bytes per request (default 4K)");
  cmd->add_option("-S,--step-size", a->step, "Bytes between requests (default: buffer size)");
  cmd->add_option("-t,--cache", a->cache, "Cache mode (default writeback)")
      ->check(CLI::IsMember({"none", "writeback", "writethrough", "directsync"}));
  cmd->add_flag("-w,--write", a->write, "Write (default: read)");
  cmd->add_option("--pattern", a->pattern, "The byte writes carry (default 0)");
  cmd->add_option("filename", a->filename, "Image file")->required();
  cmd->callback([a, &exit_code, &opening] { exit_code = RunBench(*a, opening); });
}

}  // namespace fvd::img
