// ImageServer: many threads, one image on its own loop thread.
#include "tools/nbdkit/image_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "core/util/prng.h"

namespace fvd::nbd {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> Bytes(size_t n, uint64_t seed) {
  std::vector<std::byte> v(n);
  Prng p(seed);
  for (auto& b : v) b = static_cast<std::byte>(p.NextU64());
  return v;
}

class ImageServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fvd-nbd-server-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    options_.file = (dir_ / "disk.fvd").string();
    options_.create = true;
    options_.create_options.virtual_size = 8 << 20;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  ServerOptions options_;
};

TEST_F(ImageServerTest, ManyThreadsWriteAndReadBackThroughOneLoop) {
  auto server = ImageServer::Start(options_);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ((*server)->size(), 8u << 20);
  constexpr int kThreads = 8, kPerThread = 32;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Each thread owns its own 4 KiB slots, interleaved with the other threads'.
        const uint64_t off = (uint64_t(i) * kThreads + t) * 4096;
        const auto data = Bytes(4096, off);
        if (!(*server)->Write(off, data).ok()) ++failures[t];
        std::vector<std::byte> back(4096);
        if (!(*server)->Read(off, back).ok() || back != data) ++failures[t];
        if (i % 8 == 0 && !(*server)->Flush().ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  ASSERT_TRUE((*server)->Stop().ok());
  server->reset();

  // Reopened: everything is there, and the image was closed cleanly.
  options_.create = false;
  options_.read_only = true;
  auto again = ImageServer::Start(options_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (uint64_t slot = 0; slot < kThreads * kPerThread; ++slot) {
    std::vector<std::byte> back(4096);
    ASSERT_TRUE((*again)->Read(slot * 4096, back).ok());
    ASSERT_EQ(back, Bytes(4096, slot * 4096)) << "slot " << slot;
  }
  EXPECT_EQ((*again)->Write(0, Bytes(512, 1)).code(), StatusCode::kReadOnly);
}

TEST_F(ImageServerTest, MissingOrForeignFilesAreClearErrors) {
  options_.create = false;
  auto missing = ImageServer::Start(options_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("size= or base="), std::string::npos);
  EXPECT_FALSE(fs::exists(options_.file));

  std::ofstream(options_.file) << "not an FVD image at all";
  auto foreign = ImageServer::Start(options_);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(fs::file_size(options_.file), 23u);
}

}  // namespace
}  // namespace fvd::nbd
