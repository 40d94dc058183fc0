// FvdEngine on real files, without fio: what the plugin's glue relies on.
#include "bench/fio/fvd_engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/util/prng.h"

namespace fvd::fio {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> Bytes(size_t n, uint64_t seed) {
  std::vector<std::byte> v(n);
  Prng p(seed);
  for (auto& b : v) b = static_cast<std::byte>(p.NextU64());
  return v;
}

class FvdEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fvd-fio-engine-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }
  // Writes `n` seeded random bytes to base.raw and returns them.
  std::vector<std::byte> WriteBase(size_t n, uint64_t seed) const {
    auto base = Bytes(n, seed);
    std::ofstream(Path("base.raw"), std::ios::binary)
        .write(reinterpret_cast<const char*>(base.data()),
               static_cast<std::streamsize>(base.size()));
    return base;
  }

  std::unique_ptr<FvdEngine> Make(EngineOptions o) {
    auto e = FvdEngine::Create(std::move(o), [this](const std::string& l) { log_.push_back(l); });
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(*e) : nullptr;
  }

  fs::path dir_;
  std::vector<std::string> log_;
};

TEST_F(FvdEngineTest, CreatesAnOverlayAndServesQueuedRequests) {
  const auto base = WriteBase(4 << 20, 7);
  EngineOptions o;
  o.base = "base.raw";
  o.size = 4 << 20;
  auto e = Make(o);
  auto size = e->Prepare(Path("disk.fvd"), 0);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, 4u << 20);
  ASSERT_TRUE(e->Open(Path("disk.fvd")).ok());

  // 32 writes in flight at once, then 32 reads; completions come back with their cookies.
  std::vector<std::vector<std::byte>> data;
  for (int i = 0; i < 32; ++i) data.push_back(Bytes(8192, 100 + i));
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(e->Queue(RequestKind::kWrite, uint64_t(i) * 65536 + 512, data[i], &data[i]).ok());
  }
  EXPECT_EQ(e->in_flight(), 32u);
  std::vector<Completion> done;
  while (done.size() < 32) e->Reap(1, 32, std::nullopt, done);
  for (const Completion& c : done) EXPECT_EQ(c.error, 0);
  done.clear();
  std::vector<std::vector<std::byte>> back(32, std::vector<std::byte>(8192 + 1024));
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(e->Queue(RequestKind::kRead, uint64_t(i) * 65536, back[i], &back[i]).ok());
  }
  EXPECT_EQ(e->Reap(32, 64, std::nullopt, done), 32u);
  for (int i = 0; i < 32; ++i) {
    const uint64_t off = uint64_t(i) * 65536;
    // 512 bytes of base, the write, 512 bytes of base.
    EXPECT_TRUE(std::equal(back[i].begin(), back[i].begin() + 512, base.begin() + off));
    EXPECT_TRUE(std::equal(data[i].begin(), data[i].end(), back[i].begin() + 512)) << i;
    EXPECT_TRUE(std::equal(back[i].end() - 512, back[i].end(), base.begin() + off + 8704));
  }
  ASSERT_TRUE(e->Close().ok());
  // Reopened, as fio does between its write and verify phases.
  ASSERT_TRUE(e->Open(Path("disk.fvd")).ok());
  std::vector<std::byte> again(8192);
  done.clear();
  ASSERT_TRUE(e->Queue(RequestKind::kRead, 512, again, nullptr).ok());
  ASSERT_TRUE(e->Queue(RequestKind::kFlush, 0, {}, nullptr).ok());
  EXPECT_EQ(e->Reap(2, 2, std::nullopt, done), 2u);
  EXPECT_EQ(again, data[0]);
  ASSERT_TRUE(e->Close().ok());
}

TEST_F(FvdEngineTest, TryReadNowServesPageCacheHitsWithoutACompletion) {
  WriteBase(1 << 20, 8);
  EngineOptions o;
  o.base = "base.raw";
  auto e = Make(o);
  ASSERT_TRUE(e->Prepare(Path("disk.fvd"), 0).ok());
  std::vector<std::byte> buf(4096);
  EXPECT_FALSE(e->TryReadNow(0, buf, ReadWait::kNever));  // no image open
  ASSERT_TRUE(e->Open(Path("disk.fvd")).ok());
  auto data = Bytes(65536, 9);
  std::vector<Completion> done;
  ASSERT_TRUE(e->Queue(RequestKind::kWrite, 0, data, nullptr).ok());
  EXPECT_EQ(e->Reap(1, 1, std::nullopt, done), 1u);
  ASSERT_EQ(done.at(0).error, 0);

  ASSERT_TRUE(
      e->TryReadNow(4096, buf, ReadWait::kNever));  // written: in the image and in the page cache
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), data.begin() + 4096));
  EXPECT_FALSE(
      e->TryReadNow(65536, buf, ReadWait::kAllowed));  // in the base: Queue it, even if it may wait
  EXPECT_EQ(e->in_flight(), 0u);
  done.clear();
  EXPECT_EQ(e->Reap(1, 1, std::chrono::milliseconds(1), done), 0u);  // no completion comes

  // Served reads still let the loop run now and then: a queued write completes without Reap.
  ASSERT_TRUE(e->Queue(RequestKind::kWrite, 8192, std::span(data).first(4096), nullptr).ok());
  for (int i = 0; i < 64 * 50 && e->in_flight() > 0; ++i) {
    ASSERT_TRUE(e->TryReadNow(0, buf, ReadWait::kNever));
  }
  EXPECT_EQ(e->in_flight(), 0u);
  ASSERT_TRUE(e->Close().ok());
}

TEST_F(FvdEngineTest, TryWriteNowWritesDataInTheImageWithoutACompletion) {
  const auto base = WriteBase(1 << 20, 10);
  EngineOptions o;
  o.base = "base.raw";
  auto e = Make(o);
  ASSERT_TRUE(e->Prepare(Path("disk.fvd"), 0).ok());
  const auto mine = Bytes(4096, 11);
  EXPECT_FALSE(e->TryWriteNow(0, mine));  // no image open
  ASSERT_TRUE(e->Open(Path("disk.fvd")).ok());
  auto data = Bytes(65536, 12);
  std::vector<Completion> done;
  ASSERT_TRUE(e->Queue(RequestKind::kWrite, 0, data, nullptr).ok());
  EXPECT_EQ(e->Reap(1, 1, std::nullopt, done), 1u);
  ASSERT_EQ(done.at(0).error, 0);

  ASSERT_TRUE(e->TryWriteNow(8192, mine));  // in the image: written in place, here
  // In the base: an allocating write, also done here (the buffered journal queues its record).
  ASSERT_TRUE(e->TryWriteNow(65536 + 512, mine));
  EXPECT_EQ(e->in_flight(), 0u);
  done.clear();
  EXPECT_EQ(e->Reap(1, 1, std::chrono::milliseconds(1), done), 0u);  // no completion comes
  ASSERT_TRUE(e->Close().ok());

  ASSERT_TRUE(e->Open(Path("disk.fvd")).ok());
  std::vector<std::byte> back(2 * 65536);
  ASSERT_TRUE(e->Queue(RequestKind::kRead, 0, back, nullptr).ok());
  EXPECT_EQ(e->Reap(1, 1, std::nullopt, done), 1u);
  auto truth = data;
  std::copy(mine.begin(), mine.end(), truth.begin() + 8192);
  truth.insert(truth.end(), base.begin() + 65536, base.begin() + 2 * 65536);
  std::copy(mine.begin(), mine.end(), truth.begin() + 65536 + 512);
  EXPECT_EQ(back, truth);
  ASSERT_TRUE(e->Close().ok());
}

TEST_F(FvdEngineTest, TryWriteNowLeavesAllocatingWritesToQueueWhenUnbuffered) {
  WriteBase(1 << 20, 10);
  EngineOptions o;
  o.base = "base.raw";
  o.journal = JournalMode::kUnbuffered;  // a record must be written (FUA) before completing
  auto e = Make(o);
  ASSERT_TRUE(e->Prepare(Path("disk.fvd"), 0).ok());
  ASSERT_TRUE(e->Open(Path("disk.fvd")).ok());
  auto mine = Bytes(4096, 11);
  EXPECT_FALSE(e->TryWriteNow(65536, mine));
  std::vector<Completion> done;
  ASSERT_TRUE(e->Queue(RequestKind::kWrite, 65536, mine, nullptr).ok());
  EXPECT_EQ(e->Reap(1, 1, std::nullopt, done), 1u);
  EXPECT_TRUE(e->TryWriteNow(65536, mine));  // now in the image: in place
  ASSERT_TRUE(e->Close().ok());
}

TEST_F(FvdEngineTest, ReapTimesOutWithNothingInFlight) {
  auto e = Make({});
  ASSERT_TRUE(e->Prepare(Path("d.fvd"), 1 << 20).ok());
  ASSERT_TRUE(e->Open(Path("d.fvd")).ok());
  std::vector<Completion> done;
  EXPECT_EQ(e->Reap(1, 1, std::chrono::milliseconds(1), done), 0u);
}

TEST_F(FvdEngineTest, ErrorsAreErrnoValuesAndLoggedOnce) {
  EngineOptions o;
  o.compact = true;
  o.journal_size = 0;
  auto e = Make(o);
  ASSERT_TRUE(e->Prepare(Path("d.fvd"), 1 << 20).ok());
  ASSERT_TRUE(e->Open(Path("d.fvd")).ok());
  std::vector<std::byte> buf(1000);  // not sector-sized
  std::vector<Completion> done;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(e->Queue(RequestKind::kRead, 0, buf, nullptr).ok());
  EXPECT_EQ(e->Reap(3, 3, std::nullopt, done), 3u);
  for (const Completion& c : done) EXPECT_EQ(c.error, EINVAL);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_NE(log_[0].find("not sector"), std::string::npos) << log_[0];
}

TEST_F(FvdEngineTest, BadOptionsAndFilesFailBeforeAnyIo) {
  EngineOptions o;
  o.chunk_size = 65536;  // without fvd_compact
  auto bad = FvdEngine::Create(o, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("fvd_chunk_size"), std::string::npos);

  std::ofstream(Path("not.fvd")) << "hello, not an image";
  auto e = Make({});
  auto r = e->Prepare(Path("not.fvd"), 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("not.fvd"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(fs::file_size(Path("not.fvd")), 19u);  // untouched

  EngineOptions no_create;
  no_create.create = false;
  auto e2 = Make(no_create);
  EXPECT_EQ(e2->Prepare(Path("missing.fvd"), 1 << 20).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(Path("missing.fvd")));
}

}  // namespace
}  // namespace fvd::fio
