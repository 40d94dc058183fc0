// NbdBaseDevice against a real nbdkit on a Unix socket, serving a raw file, with its filters for
// faults: the bytes, split reads, many reads in flight, a server that fails some reads, one
// that does not answer, one that dies, and URIs that lead nowhere.
#include "core/remote/nbd_base_device.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/remote/unix_socket.h"

extern char** environ;

namespace fvd::remote {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr uint64_t kSize = 4 << 20;

std::vector<std::byte> Content() {
  std::vector<std::byte> v(kSize);
  uint64_t x = 0x9e3779b97f4a7c15;
  for (auto& b : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<std::byte>(x);
  }
  return v;
}

// nbdkit in the foreground on a Unix socket, serving `file` through `filters`.
class Server {
 public:
  Server(const fs::path& dir, const fs::path& file, std::vector<std::string> extra) {
    sock_ = (dir / "s.sock").string();
    // Filters (--filter=...) before the plugin, every key=value after it.
    std::vector<std::string> args = {"nbdkit", "-f", "-U", sock_};
    for (auto& e : extra)
      if (e.rfind("--", 0) == 0) args.push_back(e);
    args.push_back("file");
    args.push_back("file=" + file.string());
    for (auto& e : extra)
      if (e.rfind("--", 0) != 0) args.push_back(e);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "nbdkit", nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    // Ready when the socket accepts: a condition, polled (at most 30 s).
    for (int i = 0; i < 3000 && pid_ > 0 && !UnixSocketAccepts(sock_); ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  ~Server() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string uri() const { return "nbd+unix:///?socket=" + sock_; }
  bool up() const { return pid_ > 0 && UnixSocketAccepts(sock_); }

 private:
  std::string sock_;
  pid_t pid_ = -1;
};

class NbdBaseDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fvd-nbd-base-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    content_ = Content();
    std::ofstream(dir_ / "base.raw", std::ios::binary)
        .write(reinterpret_cast<const char*>(content_.data()), kSize);
    auto loop = PosixEventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
  }
  void TearDown() override {
    device_.reset();
    server_.reset();
    fs::remove_all(dir_);
  }
  void Serve(std::vector<std::string> extra = {}) {
    server_.emplace(dir_, dir_ / "base.raw", std::move(extra));
    ASSERT_TRUE(server_->up()) << "nbdkit did not start";
  }
  void OpenDevice(NbdBaseOptions o = {}) {
    auto d = NbdBaseDevice::Open(*loop_, server_->uri(), o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    device_ = std::move(*d);
  }
  // Submits a read and runs the loop until it completes; the submit's own error otherwise.
  Status Read(uint64_t offset, std::span<std::byte> buf) {
    std::optional<Status> got;
    Status s = device_->SubmitRead(offset, buf, [&](Status st) { got = std::move(st); });
    if (!s.ok()) return s;
    EXPECT_FALSE(got.has_value()) << "completed inline";
    loop_->RunUntil([&] { return got.has_value(); });
    return *got;
  }
  std::span<const std::byte> Want(uint64_t offset, uint64_t n) const {
    return std::span(content_).subspan(offset, n);
  }

  fs::path dir_;
  std::vector<std::byte> content_;
  std::unique_ptr<PosixEventLoop> loop_;
  std::optional<Server> server_;
  std::unique_ptr<NbdBaseDevice> device_;
};

TEST(NbdUriTest, RecognizesNbdSchemesOnly) {
  EXPECT_TRUE(IsNbdUri("nbd://host/export"));
  EXPECT_TRUE(IsNbdUri("nbd+unix:///?socket=/run/s.sock"));
  EXPECT_TRUE(IsNbdUri("nbds://host:10809/"));
  EXPECT_FALSE(IsNbdUri("base.raw"));
  EXPECT_FALSE(IsNbdUri("/srv/nbd://x"));
  EXPECT_FALSE(IsNbdUri("http://host/base.raw"));
}

TEST_F(NbdBaseDeviceTest, ReadsTheExportByteForByteSplitAndConcurrent) {
  ASSERT_NO_FATAL_FAILURE(Serve());
  ASSERT_NO_FATAL_FAILURE(OpenDevice({.max_request = 64 << 10}));
  EXPECT_EQ(device_->size(), kSize);
  std::vector<std::byte> all(kSize);
  ASSERT_TRUE(Read(0, all).ok());  // 64 pieces
  EXPECT_TRUE(all == content_);
  // 64 reads in flight at once, of odd sizes and offsets.
  std::vector<std::vector<std::byte>> bufs(64);
  int done = 0, failed = 0;
  for (size_t i = 0; i < bufs.size(); ++i) {
    bufs[i].resize(512 * (1 + i * 37 % 300));
    const uint64_t off = (i * 1234567) % (kSize - bufs[i].size());
    ASSERT_TRUE(device_
                    ->SubmitRead(off, bufs[i],
                                 [&, off, i](Status s) {
                                   ++done;
                                   const auto want = Want(off, bufs[i].size());
                                   if (!s.ok() ||
                                       !std::equal(want.begin(), want.end(), bufs[i].begin()))
                                     ++failed;
                                 })
                    .ok());
  }
  loop_->RunUntil([&] { return done == 64; });
  EXPECT_EQ(failed, 0);
}

TEST_F(NbdBaseDeviceTest, ItIsReadOnlyAndItsFlushCompletesLater) {
  ASSERT_NO_FATAL_FAILURE(Serve());
  ASSERT_NO_FATAL_FAILURE(OpenDevice());
  std::vector<std::byte> buf(512);
  EXPECT_EQ(device_->SubmitWrite(0, buf, WriteMode::kCached, [](Status) {}).code(),
            StatusCode::kReadOnly);
  EXPECT_EQ(device_->SubmitResize(kSize * 2, [](Status) {}).code(), StatusCode::kReadOnly);
  EXPECT_EQ(device_->SubmitRead(kSize - 512, std::span(buf.data(), 1024), [](Status) {}).code(),
            StatusCode::kInvalidArgument);  // past the end
  std::optional<Status> flushed;
  ASSERT_TRUE(device_->SubmitFlush([&](Status s) { flushed = s; }).ok());
  EXPECT_FALSE(flushed.has_value());
  loop_->RunUntil([&] { return flushed.has_value(); });
  EXPECT_TRUE(flushed->ok());
}

TEST_F(NbdBaseDeviceTest, ReadsTheServerFailsFailAloneAndTheConnectionGoesOn) {
  const fs::path trigger = dir_ / "fail-now";
  ASSERT_NO_FATAL_FAILURE(Serve({"--filter=error", "error=EIO", "error-pread-rate=100%",
                                 "error-pread-file=" + trigger.string()}));
  ASSERT_NO_FATAL_FAILURE(OpenDevice());
  std::vector<std::byte> buf(4096);
  ASSERT_TRUE(Read(8192, buf).ok());
  std::ofstream(trigger).put('x');
  const Status s = Read(8192, buf);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(server_->uri()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[8192, +4096)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Input/output error"), std::string::npos) << s.message();
  fs::remove(trigger);
  ASSERT_TRUE(Read(8192, buf).ok());
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), Want(8192, 4096).begin()));
  EXPECT_TRUE(device_->dead_reason().empty());
}

TEST_F(NbdBaseDeviceTest, AServerThatDoesNotAnswerInTimeKillsTheConnection) {
  ASSERT_NO_FATAL_FAILURE(Serve({"--filter=delay", "rdelay=60"}));
  ASSERT_NO_FATAL_FAILURE(OpenDevice({.timeout = std::chrono::seconds(2)}));
  std::vector<std::byte> buf(4096);
  const auto start = std::chrono::steady_clock::now();
  Status s = Read(0, buf);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(50));  // not the 60
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("did not answer the read of [0, +4096) within"), std::string::npos)
      << s.message();
  // Every later read fails at once, naming why.
  s = device_->SubmitRead(0, buf, [](Status) { ADD_FAILURE() << "called back"; });
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("until the image is reopened"), std::string::npos) << s.message();
}

TEST_F(NbdBaseDeviceTest, AServerThatDiesFailsTheReadsInFlightAndLater) {
  ASSERT_NO_FATAL_FAILURE(Serve({"--filter=delay", "rdelay=5"}));
  ASSERT_NO_FATAL_FAILURE(OpenDevice());
  std::vector<std::byte> buf(4096);
  std::optional<Status> got;
  ASSERT_TRUE(device_->SubmitRead(0, buf, [&](Status s) { got = s; }).ok());
  server_->Kill();  // with the read in flight
  loop_->RunUntil([&] { return got.has_value(); });
  EXPECT_EQ(got->code(), StatusCode::kIoError);
  EXPECT_NE(got->message().find("connection to the base '" + server_->uri() + "' was lost"),
            std::string::npos)
      << got->message();
  EXPECT_EQ(device_->SubmitRead(0, buf, [](Status) {}).code(), StatusCode::kIoError);
}

TEST_F(NbdBaseDeviceTest, OpeningWhatIsNotThereNamesTheUri) {
  const std::string uri = "nbd+unix:///?socket=" + (dir_ / "nobody.sock").string();
  auto d = NbdBaseDevice::Open(*loop_, uri);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kIoError);
  EXPECT_NE(d.status().message().find(uri), std::string::npos) << d.status().message();
  auto not_uri = NbdBaseDevice::Open(*loop_, "base.raw");
  EXPECT_EQ(not_uri.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fvd::remote
