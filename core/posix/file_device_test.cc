#include "core/posix/file_device.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/seam/sync_io.h"
#include "core/util/prng.h"

namespace fvd {
namespace {

// Drives `loop` for SyncIo.
LoopDriver Drive(PosixEventLoop& loop) {
  return [&loop](const std::function<bool()>& done) { loop.RunUntil(done); };
}

std::vector<std::byte> Pattern(size_t len, uint64_t seed) {
  std::vector<std::byte> out(len);
  Prng rng(seed);
  for (auto& b : out) b = static_cast<std::byte>(rng.NextU64());
  return out;
}

// A temporary file that removes itself.
class TempFile {
 public:
  TempFile() {
    std::string tmpl = ::testing::TempDir() + "fvd_file_device_XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    EXPECT_GE(fd, 0) << std::strerror(errno);
    if (fd >= 0) ::close(fd);
    path_ = tmpl;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

  void Truncate(off_t size) const { ASSERT_EQ(::truncate(path_.c_str(), size), 0); }

 private:
  std::string path_;
};

// Frees std::aligned_alloc memory.
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

const char* BackendParamName(IoBackend b) {
  return b == IoBackend::kIoUring ? "IoUring" : "ThreadPool";
}

class FileDeviceTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  static constexpr uint64_t kFileSize = 4 << 20;

  void SetUp() override {
    auto created = PosixEventLoop::Create();
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    loop_ = std::move(created).value();
    file_.Truncate(kFileSize);
  }

  FileDeviceOptions Options() const {
    FileDeviceOptions o;
    o.backend = GetParam();
    o.queue_depth = 16;  // far fewer than the tests keep in flight: exercises internal queueing
    o.pool_threads = 3;
    o.try_without_blocking = false;  // every request through the backend under test
    return o;
  }

  // Opens the temp file; skips the test when io_uring is refused on this machine.
  std::unique_ptr<FileDevice> OpenOrSkip(const FileDeviceOptions& options) {
    auto dev = FileDevice::Open(*loop_, file_.path(), options);
    if (!dev.ok() && GetParam() == IoBackend::kIoUring &&
        dev.status().code() == StatusCode::kUnsupported) {
      skipped_ = dev.status().ToString();
      return nullptr;
    }
    EXPECT_TRUE(dev.ok()) << dev.status().ToString();
    if (!dev.ok()) return nullptr;
    return std::move(dev).value();
  }

  Status Write(FileDevice& dev, uint64_t offset, std::span<const std::byte> data,
               WriteMode mode = WriteMode::kCached) {
    return SyncIo(Drive(*loop_), [&](IoCallback cb) {
      return dev.SubmitWrite(offset, data, mode, std::move(cb));
    });
  }
  Status Read(FileDevice& dev, uint64_t offset, std::span<std::byte> out) {
    return SyncIo(Drive(*loop_),
                  [&](IoCallback cb) { return dev.SubmitRead(offset, out, std::move(cb)); });
  }
  Status Flush(FileDevice& dev) {
    return SyncIo(Drive(*loop_), [&](IoCallback cb) { return dev.SubmitFlush(std::move(cb)); });
  }

  // RunUntil with a watchdog, so a lost completion fails the test instead of hanging it.
  void RunUntilOrFail(const std::function<bool()>& done) {
    bool expired = false;
    const TimerId watchdog =
        loop_->ScheduleAfter(std::chrono::seconds(30), [&] { expired = true; });
    loop_->RunUntil([&] { return expired || done(); });
    loop_->Cancel(watchdog);
    ASSERT_FALSE(expired) << "completions did not arrive";
  }
  void RunUntilCount(const int& count, int n) {
    RunUntilOrFail([&] { return count >= n; });
  }

  TempFile file_;
  std::unique_ptr<PosixEventLoop> loop_;
  std::string skipped_;
};

#define OPEN_OR_SKIP(dev, options)                 \
  auto dev = OpenOrSkip(options);                  \
  if (!skipped_.empty()) GTEST_SKIP() << skipped_; \
  ASSERT_NE(dev, nullptr)

TEST_P(FileDeviceTest, ReportsBackendSizeAndAlignment) {
  OPEN_OR_SKIP(dev, Options());
  EXPECT_STREQ(dev->backend_name(), GetParam() == IoBackend::kIoUring ? "io_uring" : "thread pool");
  EXPECT_EQ(dev->size(), kFileSize);
  EXPECT_EQ(dev->alignment(), 1u);
  EXPECT_EQ(dev->path(), file_.path());
}

TEST_P(FileDeviceTest, ManyConcurrentWritesThenReadsRoundTrip) {
  OPEN_OR_SKIP(dev, Options());
  constexpr int kOps = 256;
  constexpr size_t kBlock = 4096;
  // Distinct random 4 KiB slots, so every write can be checked against its own pattern.
  std::vector<uint64_t> slots(kFileSize / kBlock);
  std::iota(slots.begin(), slots.end(), 0);
  Prng shuffle_rng(42);
  for (size_t i = slots.size(); i > 1; --i) std::swap(slots[i - 1], slots[shuffle_rng.Below(i)]);
  std::vector<std::vector<std::byte>> data;
  for (int i = 0; i < kOps; ++i) data.push_back(Pattern(kBlock, 1000 + i));

  int completed = 0;
  int failed = 0;
  std::vector<bool> returned(kOps, false);
  for (int i = 0; i < kOps; ++i) {
    Status st = dev->SubmitWrite(slots[i] * kBlock, data[i], WriteMode::kCached, [&, i](Status s) {
      EXPECT_TRUE(returned[i]) << "write " << i << " completed inline";
      if (!s.ok()) ++failed;
      ++completed;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    returned[i] = true;
  }
  RunUntilCount(completed, kOps);
  EXPECT_EQ(failed, 0);
  ASSERT_TRUE(Flush(*dev).ok());

  std::vector<std::vector<std::byte>> back(kOps, std::vector<std::byte>(kBlock));
  completed = 0;
  for (int i = 0; i < kOps; ++i) {
    ASSERT_TRUE(dev->SubmitRead(slots[i] * kBlock, back[i],
                                [&](Status s) {
                                  EXPECT_TRUE(s.ok()) << s.ToString();
                                  ++completed;
                                })
                    .ok());
  }
  RunUntilCount(completed, kOps);
  for (int i = 0; i < kOps; ++i) EXPECT_EQ(back[i], data[i]) << "slot " << slots[i];
}

TEST_P(FileDeviceTest, PageCacheFastPathRoundTripsAndCompletesLater) {
  FileDeviceOptions options = Options();
  options.try_without_blocking = true;
  OPEN_OR_SKIP(dev, options);
  const auto data = Pattern(3 * 4096 + 512, 77);
  bool returned = false, done = false;
  ASSERT_TRUE(dev->SubmitWrite(5000, data, WriteMode::kCached,
                               [&](Status s) {
                                 EXPECT_TRUE(s.ok()) << s.ToString();
                                 EXPECT_TRUE(returned) << "completed inline";
                                 done = true;
                               })
                  .ok());
  returned = true;
  RunUntilOrFail([&] { return done; });
  std::vector<std::byte> back(data.size());
  returned = done = false;
  ASSERT_TRUE(dev->SubmitRead(5000, back,
                              [&](Status s) {
                                EXPECT_TRUE(s.ok()) << s.ToString();
                                EXPECT_TRUE(returned) << "completed inline";
                                done = true;
                              })
                  .ok());
  returned = true;
  RunUntilOrFail([&] { return done; });
  EXPECT_EQ(back, data);
  // And what another descriptor sees: the bytes really are in the file.
  auto other = FileDevice::Open(*loop_, file_.path(), Options());
  ASSERT_TRUE(other.ok());
  std::vector<std::byte> again(data.size());
  ASSERT_TRUE(Read(**other, 5000, again).ok());
  EXPECT_EQ(again, data);
}

TEST_P(FileDeviceTest, UnalignedOffsetsAndOddSizesMatchAShadowCopy) {
  OPEN_OR_SKIP(dev, Options());
  std::vector<std::byte> shadow(kFileSize);  // the file starts as a hole: zeros
  struct Piece {
    uint64_t offset;
    size_t len;
  };
  const Piece pieces[] = {{0, 1},
                          {1, 511},
                          {511, 4097},
                          {12345, 65536},
                          {kFileSize - 3, 3},
                          {100000, 1048579},
                          {2 << 20, 1 << 20},
                          {7, 3}};
  int completed = 0;
  std::vector<std::vector<std::byte>> data;
  for (size_t i = 0; i < std::size(pieces); ++i) data.push_back(Pattern(pieces[i].len, i));
  // All in flight at once; overlapping pieces are unordered, so only disjoint ones share a
  // batch: apply them to the shadow in two waves.
  for (int wave = 0; wave < 2; ++wave) {
    completed = 0;
    int submitted = 0;
    for (size_t i = wave; i < std::size(pieces); i += 2) {
      ASSERT_TRUE(dev->SubmitWrite(pieces[i].offset, data[i], WriteMode::kCached,
                                   [&](Status s) {
                                     EXPECT_TRUE(s.ok()) << s.ToString();
                                     ++completed;
                                   })
                      .ok());
      ++submitted;
    }
    RunUntilCount(completed, submitted);
    for (size_t i = wave; i < std::size(pieces); i += 2) {
      std::memcpy(shadow.data() + pieces[i].offset, data[i].data(), pieces[i].len);
    }
  }
  std::vector<std::byte> whole(kFileSize);
  ASSERT_TRUE(Read(*dev, 0, whole).ok());
  EXPECT_TRUE(whole == shadow);
  std::vector<std::byte> middle(4097);
  ASSERT_TRUE(Read(*dev, 511, middle).ok());
  EXPECT_EQ(0, std::memcmp(middle.data(), shadow.data() + 511, middle.size()));
}

TEST_P(FileDeviceTest, FuaWriteIsReadBack) {
  OPEN_OR_SKIP(dev, Options());
  const auto data = Pattern(8192, 7);
  ASSERT_TRUE(Write(*dev, 4096, data, WriteMode::kFua).ok());
  std::vector<std::byte> back(8192);
  ASSERT_TRUE(Read(*dev, 4096, back).ok());
  EXPECT_EQ(back, data);
}

TEST_P(FileDeviceTest, FlushAndZeroLengthOpsCompleteLaterNotInline) {
  OPEN_OR_SKIP(dev, Options());
  int completed = 0;
  bool returned = false;
  auto cb = [&](Status s) {
    EXPECT_TRUE(returned) << "completed inline";
    EXPECT_TRUE(s.ok()) << s.ToString();
    ++completed;
  };
  ASSERT_TRUE(dev->SubmitFlush(cb).ok());
  ASSERT_TRUE(dev->SubmitRead(0, {}, cb).ok());
  ASSERT_TRUE(dev->SubmitWrite(kFileSize, {}, WriteMode::kCached, cb).ok());
  ASSERT_TRUE(dev->SubmitResize(kFileSize, cb).ok());
  returned = true;
  EXPECT_EQ(completed, 0);
  RunUntilCount(completed, 4);
  EXPECT_EQ(completed, 4);
}

TEST_P(FileDeviceTest, OutOfRangeSubmitFailsAtOnceAndNeverCallsBack) {
  OPEN_OR_SKIP(dev, Options());
  int calls = 0;
  std::vector<std::byte> buf(2);
  Status st = dev->SubmitRead(kFileSize - 1, buf, [&](Status) { ++calls; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find(file_.path()), std::string::npos) << st.message();
  st = dev->SubmitWrite(kFileSize, buf, WriteMode::kCached, [&](Status) { ++calls; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  st = dev->SubmitRead(UINT64_MAX, buf, [&](Status) { ++calls; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  st = dev->SubmitRead(0, buf, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << "missing callback";
  // Let anything wrongly queued surface: a short timer, then drain.
  bool tick = false;
  loop_->ScheduleAfter(std::chrono::milliseconds(20), [&] { tick = true; });
  loop_->RunUntil([&] { return tick; });
  while (loop_->RunReady() > 0) {
  }
  EXPECT_EQ(calls, 0);
}

TEST_P(FileDeviceTest, ReadOnlyDeviceRefusesWritesAtSubmit) {
  const auto data = Pattern(4096, 3);
  {
    OPEN_OR_SKIP(rw, Options());
    ASSERT_TRUE(Write(*rw, 8192, data).ok());
  }
  FileDeviceOptions options = Options();
  options.mode = OpenMode::kReadOnly;
  OPEN_OR_SKIP(dev, options);
  int calls = 0;
  Status st = dev->SubmitWrite(0, data, WriteMode::kCached, [&](Status) { ++calls; });
  EXPECT_EQ(st.code(), StatusCode::kReadOnly) << st.ToString();
  st = dev->SubmitResize(2 * kFileSize, [&](Status) { ++calls; });
  EXPECT_EQ(st.code(), StatusCode::kReadOnly) << st.ToString();
  std::vector<std::byte> back(4096);
  ASSERT_TRUE(Read(*dev, 8192, back).ok());
  EXPECT_EQ(back, data);
  ASSERT_TRUE(Flush(*dev).ok());
  EXPECT_EQ(calls, 0);
}

// Sets RLIMIT_FSIZE (with SIGXFSZ ignored) for the scope, so writes past it fail with EFBIG.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t limit) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &saved_), 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved_;
    lowered.rlim_cur = limit;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &lowered), 0);
  }
  ~FileSizeLimit() {
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &saved_), 0);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

TEST_P(FileDeviceTest, IoErrorsCompleteWithAStatusNamingTheOperation) {
  OPEN_OR_SKIP(dev, Options());
  const auto data = Pattern(4096, 5);
  FileSizeLimit limit(1 << 20);
  bool returned = false;
  bool done = false;
  Status result;
  ASSERT_TRUE(dev->SubmitWrite(2 << 20, data, WriteMode::kCached,
                               [&](Status s) {
                                 EXPECT_TRUE(returned) << "completed inline";
                                 result = std::move(s);
                                 done = true;
                               })
                  .ok());
  returned = true;
  RunUntilOrFail([&] { return done; });
  EXPECT_EQ(result.code(), StatusCode::kIoError) << result.ToString();
  const std::vector<std::string> parts = {"write", file_.path(), "2097152", "4096",
                                          std::strerror(EFBIG)};
  for (const std::string& part : parts) {
    EXPECT_NE(result.message().find(part), std::string::npos) << part << " in " << result.message();
  }
  // Growing past the limit fails too, and leaves size() alone.
  Status grow = SyncIo(Drive(*loop_),
                       [&](IoCallback cb) { return dev->SubmitResize(8 << 20, std::move(cb)); });
  EXPECT_EQ(grow.code(), StatusCode::kIoError) << grow.ToString();
  EXPECT_EQ(dev->size(), kFileSize);
  // Below the limit, writes still work.
  EXPECT_TRUE(Write(*dev, 0, data).ok());
}

TEST_P(FileDeviceTest, ResizeGrowsWithZerosAndShrinks) {
  OPEN_OR_SKIP(dev, Options());
  const auto data = Pattern(4096, 9);
  ASSERT_TRUE(Write(*dev, kFileSize - 4096, data).ok());
  bool done = false;
  Status result;
  ASSERT_TRUE(dev->SubmitResize(3 * kFileSize,
                                [&](Status s) {
                                  result = std::move(s);
                                  done = true;
                                })
                  .ok());
  RunUntilOrFail([&] { return done; });
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(dev->size(), 3 * kFileSize);
  struct stat st {};
  ASSERT_EQ(::stat(file_.path().c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 3 * kFileSize);

  std::vector<std::byte> tail(2 * kFileSize, std::byte{0xAA});
  ASSERT_TRUE(Read(*dev, kFileSize, tail).ok());
  EXPECT_TRUE(std::all_of(tail.begin(), tail.end(), [](std::byte b) { return b == std::byte{0}; }));
  std::vector<std::byte> back(4096);
  ASSERT_TRUE(Read(*dev, kFileSize - 4096, back).ok());
  EXPECT_EQ(back, data);

  Status shrink =
      SyncIo(Drive(*loop_), [&](IoCallback cb) { return dev->SubmitResize(4096, std::move(cb)); });
  ASSERT_TRUE(shrink.ok()) << shrink.ToString();
  EXPECT_EQ(dev->size(), 4096u);
  std::vector<std::byte> buf(4096);
  EXPECT_EQ(dev->SubmitRead(4096, buf, [](Status) {}).code(), StatusCode::kInvalidArgument);
}

TEST_P(FileDeviceTest, ReadPastEofOfAFileShrunkBehindOurBackGivesZeros) {
  OPEN_OR_SKIP(dev, Options());
  ASSERT_TRUE(Write(*dev, 0, Pattern(8192, 11)).ok());
  file_.Truncate(4096);  // size() still says kFileSize
  std::vector<std::byte> back(8192, std::byte{0xAA});
  ASSERT_TRUE(Read(*dev, 0, back).ok());
  const auto expected = Pattern(8192, 11);
  EXPECT_EQ(0, std::memcmp(back.data(), expected.data(), 4096));
  EXPECT_TRUE(
      std::all_of(back.begin() + 4096, back.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_P(FileDeviceTest, TryReadNowReadsThePageCacheHereAndDeclinesWhatItCannot) {
  {  // A filesystem without non-blocking buffered reads cannot serve any (tmpfs on old kernels).
    const int fd = ::open(file_.path().c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char c;
    iovec iov{&c, 1};
    const bool unsupported = ::preadv2(fd, &iov, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
    ::close(fd);
    if (unsupported) GTEST_SKIP() << "no RWF_NOWAIT reads on this filesystem";
  }
  FileDeviceOptions options = Options();
  options.try_without_blocking = true;
  OPEN_OR_SKIP(dev, options);
  const auto data = Pattern(3 * 4096 + 512, 78);
  ASSERT_TRUE(Write(*dev, 5000, data).ok());  // now in the page cache
  std::vector<std::byte> back(data.size());
  ASSERT_TRUE(dev->TryReadNow(5000, back, ReadWait::kNever));
  EXPECT_EQ(back, data);
  EXPECT_EQ(loop_->RunReady(), 0u);                                        // nothing was posted
  EXPECT_FALSE(dev->TryReadNow(kFileSize - 512, back, ReadWait::kNever));  // past the end
  EXPECT_EQ(loop_->RunReady(), 0u);

  auto without = OpenOrSkip(Options());  // try_without_blocking off: never served here
  ASSERT_NE(without, nullptr);
  EXPECT_FALSE(without->TryReadNow(5000, back, ReadWait::kNever));
  std::fill(back.begin(), back.end(), std::byte{0});
  ASSERT_TRUE(without->TryReadNow(5000, back, ReadWait::kAllowed));  // a plain pread
  EXPECT_EQ(back, data);
  EXPECT_FALSE(without->TryReadNow(kFileSize - 512, back, ReadWait::kAllowed));
}

TEST_P(FileDeviceTest, TryWriteNowWritesHereInEitherModeAndDeclinesWhatItCannot) {
  auto dev = OpenOrSkip(Options());
  ASSERT_NE(dev, nullptr);
  const auto data = Pattern(2 * 4096 + 512, 79), fua = Pattern(4096, 80);
  ASSERT_TRUE(dev->TryWriteNow(5000, data, WriteMode::kCached));
  ASSERT_TRUE(dev->TryWriteNow(20000, fua, WriteMode::kFua));                // RWF_DSYNC
  EXPECT_EQ(loop_->RunReady(), 0u);                                          // nothing was posted
  EXPECT_FALSE(dev->TryWriteNow(kFileSize - 512, fua, WriteMode::kCached));  // past the end
  std::vector<std::byte> back(data.size());
  ASSERT_TRUE(Read(*dev, 5000, back).ok());
  EXPECT_EQ(back, data);
  back.resize(fua.size());
  ASSERT_TRUE(Read(*dev, 20000, back).ok());
  EXPECT_EQ(back, fua);

  FileDeviceOptions ro = Options();
  ro.mode = OpenMode::kReadOnly;
  auto reader = OpenOrSkip(ro);
  ASSERT_NE(reader, nullptr);
  EXPECT_FALSE(reader->TryWriteNow(5000, fua, WriteMode::kCached));
  ASSERT_TRUE(Read(*reader, 5000, back).ok());
  EXPECT_TRUE(std::equal(back.begin(), back.end(), data.begin()));
}

TEST_P(FileDeviceTest, DirectIoWithAlignedBuffers) {
  FileDeviceOptions options = Options();
  options.cache = CacheMode::kDirect;
  auto opened = FileDevice::Open(*loop_, file_.path(), options);
  if (!opened.ok() && opened.status().code() == StatusCode::kUnsupported) {
    GTEST_SKIP() << opened.status().ToString();
  }
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  FileDevice& dev = **opened;
  // What the kernel demands (statx DIOALIGN), or 4096 when it does not say: a power of two.
  const uint32_t a = dev.alignment();
  ASSERT_GE(a, 512u);
  ASSERT_LE(a, 4096u);
  ASSERT_EQ(a & (a - 1), 0u);

  constexpr size_t kLen = 64 * 1024;
  std::unique_ptr<std::byte, FreeDeleter> wbuf(
      static_cast<std::byte*>(std::aligned_alloc(4096, kLen)));
  std::unique_ptr<std::byte, FreeDeleter> rbuf(
      static_cast<std::byte*>(std::aligned_alloc(4096, kLen)));
  ASSERT_NE(wbuf, nullptr);
  ASSERT_NE(rbuf, nullptr);
  const auto data = Pattern(kLen, 13);
  std::memcpy(wbuf.get(), data.data(), kLen);
  std::memset(rbuf.get(), 0xAA, kLen);  // a read that moves nothing must not pass
  ASSERT_TRUE(Write(dev, 8 * 4096, {wbuf.get(), kLen}, WriteMode::kFua).ok());
  ASSERT_TRUE(Read(dev, 8 * 4096, {rbuf.get(), kLen}).ok());
  EXPECT_EQ(0, std::memcmp(rbuf.get(), data.data(), kLen));
  EXPECT_FALSE(dev.TryReadNow(8 * 4096, {rbuf.get(), kLen}, ReadWait::kNever));  // O_DIRECT waits
  std::memset(rbuf.get(), 0xAA, kLen);
  ASSERT_TRUE(dev.TryReadNow(8 * 4096, {rbuf.get(), kLen}, ReadWait::kAllowed));
  EXPECT_EQ(0, std::memcmp(rbuf.get(), data.data(), kLen));
  // A synchronous O_DIRECT write, read back through the device.
  const auto again = Pattern(kLen, 14);
  std::memcpy(wbuf.get(), again.data(), kLen);
  ASSERT_TRUE(dev.TryWriteNow(8 * 4096, {wbuf.get(), kLen}, WriteMode::kCached));
  EXPECT_FALSE(
      dev.TryWriteNow(8 * 4096 + a / 2, {wbuf.get(), a}, WriteMode::kCached));  // unaligned
  std::memset(rbuf.get(), 0xAA, kLen);
  ASSERT_TRUE(Read(dev, 8 * 4096, {rbuf.get(), kLen}).ok());
  EXPECT_EQ(0, std::memcmp(rbuf.get(), again.data(), kLen));

  int calls = 0;
  EXPECT_EQ(dev.SubmitRead(a / 2, {rbuf.get(), a}, [&](Status) { ++calls; }).code(),
            StatusCode::kInvalidArgument);
  const Status misplaced = dev.SubmitRead(0, {rbuf.get() + a / 2, a}, [&](Status) { ++calls; });
  EXPECT_EQ(misplaced.code(), StatusCode::kInvalidArgument);
  // The offset and length are fine: the message names the buffer's address.
  EXPECT_NE(misplaced.message().find("the buffer of the I/O at offset 0 length " +
                                     std::to_string(a) + " is at address"),
            std::string::npos)
      << misplaced.message();
  EXPECT_NE(misplaced.message().find("not aligned to " + std::to_string(a) + " bytes in memory"),
            std::string::npos)
      << misplaced.message();
  EXPECT_EQ(dev.SubmitRead(0, {rbuf.get(), a + a / 2}, [&](Status) { ++calls; }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(loop_->RunReady(), 0u);
  EXPECT_EQ(calls, 0);
}

TEST_P(FileDeviceTest, OpenWithCreateMakesAnEmptyFile) {
  const std::string path = file_.path() + ".new";
  FileDeviceOptions options = Options();
  options.create = true;
  auto dev = FileDevice::Open(*loop_, path, options);
  if (!dev.ok() && dev.status().code() == StatusCode::kUnsupported) {
    GTEST_SKIP() << dev.status().ToString();
  }
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_EQ((*dev)->size(), 0u);
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0022u, 0644u & ~0022u);
  ::unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, FileDeviceTest,
                         ::testing::Values(IoBackend::kIoUring, IoBackend::kThreadPool),
                         [](const ::testing::TestParamInfo<IoBackend>& param_info) {
                           return std::string(BackendParamName(param_info.param));
                         });

class FileDeviceOpenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = PosixEventLoop::Create();
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    loop_ = std::move(created).value();
  }
  std::unique_ptr<PosixEventLoop> loop_;
};

TEST_F(FileDeviceOpenTest, MissingPathIsNotFoundAndNamesThePath) {
  const std::string path = ::testing::TempDir() + "fvd_definitely_missing_file";
  ::unlink(path.c_str());
  auto dev = FileDevice::Open(*loop_, path, FileDeviceOptions{});
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kNotFound);
  EXPECT_NE(dev.status().message().find(path), std::string::npos) << dev.status().message();
}

TEST_F(FileDeviceOpenTest, DirectoryIsRefused) {
  FileDeviceOptions options;
  options.mode = OpenMode::kReadOnly;
  auto dev = FileDevice::Open(*loop_, ::testing::TempDir(), options);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kInvalidArgument) << dev.status().ToString();
}

TEST_F(FileDeviceOpenTest, BadOptionsAreRefused) {
  TempFile file;
  FileDeviceOptions options;
  options.queue_depth = 0;
  EXPECT_EQ(FileDevice::Open(*loop_, file.path(), options).status().code(),
            StatusCode::kInvalidArgument);
  options = FileDeviceOptions{};
  options.backend = IoBackend::kThreadPool;
  options.pool_threads = 0;
  EXPECT_EQ(FileDevice::Open(*loop_, file.path(), options).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(FileDeviceOpenTest, AutoBackendPicksOneThatWorks) {
  TempFile file;
  file.Truncate(4096);
  auto dev = FileDevice::Open(*loop_, file.path(), FileDeviceOptions{});
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  const std::string name = (*dev)->backend_name();
  EXPECT_TRUE(name == "io_uring" || name == "thread pool") << name;
  const auto data = Pattern(4096, 17);
  ASSERT_TRUE(SyncIo(Drive(*loop_), [&](IoCallback cb) {
                return (*dev)->SubmitWrite(0, data, WriteMode::kCached, std::move(cb));
              }).ok());
  std::vector<std::byte> back(4096);
  ASSERT_TRUE(SyncIo(Drive(*loop_), [&](IoCallback cb) {
                return (*dev)->SubmitRead(0, back, std::move(cb));
              }).ok());
  EXPECT_EQ(back, data);
}

TEST_F(FileDeviceOpenTest, SyncIoReturnsASubmitErrorWithoutRunningTheLoop) {
  bool loop_ran = false;
  loop_->Post([&] { loop_ran = true; });
  Status st = SyncIo(Drive(*loop_), [](IoCallback) { return Status::Busy("full"); });
  EXPECT_EQ(st.code(), StatusCode::kBusy);
  EXPECT_FALSE(loop_ran);
}

}  // namespace
}  // namespace fvd
