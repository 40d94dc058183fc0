// ImageServer: many threads, one image on its own loop thread.
#include "tools/nbdkit/image_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
  // The image to create becomes an overlay with 4 KiB blocks of base.raw, `size` seeded bytes
  // (returned).
  std::vector<std::byte> OverlayOfBase(size_t size, uint64_t seed) {
    auto base = Bytes(size, seed);
    std::ofstream(dir_ / "base.raw", std::ios::binary)
        .write(reinterpret_cast<const char*>(base.data()),
               static_cast<std::streamsize>(base.size()));
    options_.create_options.base_img = "base.raw";
    options_.create_options.block_size = 4096;
    return base;
  }

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

// An overlay of a 4 MiB base, 8 MiB large: base data goes through the loop (the core reads the
// base), a block once written goes direct (learned when the loop's write completed), and the
// disk past the base, which no bitmap covers, goes direct from the start.
TEST_F(ImageServerTest, DataInPlaceGoesDirectAndEverythingElseThroughTheLoop) {
  const auto base = OverlayOfBase(4 << 20, 77);
  for (const bool direct_path : {true, false}) {
    SCOPED_TRACE(direct_path ? "direct path" : "loop only");
    fs::remove(options_.file);
    options_.create = true;
    options_.read_only = false;
    options_.direct_path = direct_path;
    auto server = ImageServer::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    ImageServer& srv = **server;
    std::vector<std::byte> buf(4096);
    ASSERT_TRUE(srv.Read(0, buf).ok());
    EXPECT_TRUE(std::equal(buf.begin(), buf.end(), base.begin()));
    const auto first = Bytes(4096, 1), second = Bytes(4096, 2);
    ASSERT_TRUE(srv.Write(1 << 20, first).ok());   // allocates whole blocks: direct, recorded
    ASSERT_TRUE(srv.Write(1 << 20, second).ok());  // in place, or allocating again if before
    ASSERT_TRUE(srv.Write(512, std::span(first).first(1024)).ok());  // part of a block: loop
    ASSERT_TRUE(srv.Read(1 << 20, buf).ok());
    EXPECT_EQ(buf, second);
    ASSERT_TRUE(srv.Read(6 << 20, buf).ok());  // past the base: zeros
    EXPECT_EQ(buf, std::vector<std::byte>(4096));
    ASSERT_TRUE(srv.Flush().ok());
    const ServerStats st = srv.stats();
    if (direct_path) {
      EXPECT_EQ(st.loop_reads, 1u);
      EXPECT_EQ(st.loop_writes, 1u);
      EXPECT_EQ(st.direct_reads, 2u);
      // The second write finds the block in place once the loop has recorded the first.
      EXPECT_GE(st.direct_allocating_writes, 1u);
      EXPECT_EQ(st.direct_allocating_writes + st.direct_writes, 2u);
    } else {
      EXPECT_EQ(st.loop_reads, 3u);
      EXPECT_EQ(st.loop_writes, 3u);
      EXPECT_EQ(st.direct_reads + st.direct_writes + st.direct_allocating_writes, 0u);
    }
    ASSERT_TRUE(srv.Stop().ok());
    server->reset();

    // Reopened read-only: the direct write is where the core looks for it.
    options_.create = false;
    options_.read_only = true;
    auto again = ImageServer::Start(options_);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ASSERT_TRUE((*again)->Read(1 << 20, buf).ok());
    EXPECT_EQ(buf, second);
    ASSERT_TRUE((*again)->Read(4096, buf).ok());
    EXPECT_TRUE(std::equal(buf.begin(), buf.end(), base.begin() + 4096));
    ASSERT_TRUE((*again)->Read(0, buf).ok());  // the partial write, merged with the base
    auto merged = std::vector<std::byte>(base.begin(), base.begin() + 4096);
    std::copy_n(first.begin(), 1024, merged.begin() + 512);
    EXPECT_EQ(buf, merged);
  }
}

// Allocating writes of an overlay's whole blocks from many threads at once, each read back at
// once by its writer and then by another thread: every one is there once reported done, whether
// or not the loop has recorded it yet; flushes wait for the records, and the image reopens with
// all of them.
TEST_F(ImageServerTest, AllocatingWritesOnManyThreadsAreReadBackAndSurviveAReopen) {
  const auto base = OverlayOfBase(8 << 20, 78);
  options_.journal_buffer_bytes = 4096;  // write-outs, and records that wait for them
  auto server = ImageServer::Start(options_);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ImageServer& srv = **server;
  constexpr int kThreads = 8, kPerThread = 64;
  const auto slot_of = [](int t, int i) { return (uint64_t(i) * kThreads + t) * 2 * 4096; };
  std::vector<int> failures(kThreads, 0);
  std::vector<std::atomic<int>> done(kThreads);  // writes each thread has had reported done
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::byte> back(4096);
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t off = slot_of(t, i);
        const auto data = Bytes(4096, off);
        if (!srv.Write(off, data).ok()) ++failures[t];
        if (!srv.Read(off, back).ok() || back != data) ++failures[t];
        done[t].store(i + 1, std::memory_order_release);
        // The latest write another thread has had reported done: there for this one too.
        const int u = (t + 1) % kThreads, j = done[u].load(std::memory_order_acquire) - 1;
        if (j >= 0 && (!srv.Read(slot_of(u, j), back).ok() || back != Bytes(4096, slot_of(u, j))))
          ++failures[t];
        if (i % 16 == 15 && !srv.Flush().ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_EQ(srv.stats().loop_writes, 0u);
  EXPECT_EQ(srv.stats().direct_allocating_writes, uint64_t{kThreads} * kPerThread);
  ASSERT_TRUE(srv.Stop().ok());
  server->reset();

  options_.read_only = true;
  auto again = ImageServer::Start(options_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  std::vector<std::byte> back(4096);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_TRUE((*again)->Read(slot_of(t, i), back).ok());
      ASSERT_EQ(back, Bytes(4096, slot_of(t, i))) << "thread " << t << " write " << i;
      ASSERT_TRUE((*again)->Read(slot_of(t, i) + 4096, back).ok());  // the base between them
      ASSERT_TRUE(std::equal(back.begin(), back.end(), base.begin() + slot_of(t, i) + 4096));
    }
  }
}

}  // namespace
}  // namespace fvd::nbd
