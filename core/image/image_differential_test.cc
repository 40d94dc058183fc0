// Randomized differential test: thousands of concurrent reads, writes and flushes against an
// image and against a plain truth buffer, for every combination of base / no base, compact or
// not, copy-on-read on or off, buffered or unbuffered journal, and no journal at all. Seeded: the
// loop's tie-break seed picks the interleaving, so each seed explores another one and repeats it
// exactly. Half the reads try Image::TryReadNow first, half the writes Image::TryWriteNow.
#include <gtest/gtest.h>

#include <string>

#include "core/image/image.h"
#include "core/testing/image_world.h"

namespace fvd {
namespace {

using testing::ImageWorld;
using testing::Pattern;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kDisk = 2048 * kKiB;
constexpr uint64_t kBaseLen = 1536 * kKiB + 512;

struct Config {
  bool base;
  bool compact;
  bool copy_on_read;
  JournalMode mode;
  bool journal = true;  // false: journal_size 0, metadata written in place
};

std::string Name(const Config& c) {
  return std::string(c.base ? "base" : "nobase") + (c.compact ? "_compact" : "_flat") +
         (c.copy_on_read ? "_cor" : "") +
         (c.mode == JournalMode::kBuffered ? "_buffered" : "_unbuffered") +
         (c.journal ? "" : "_nojournal");
}

void PrintTo(const Config& c, std::ostream* os) {
  *os << Name(c);
}

struct Op {
  enum Kind { kRead, kWrite, kFlush } kind;
  uint64_t offset = 0;
  std::vector<std::byte> data;  // write payload, or read buffer
  Status status;
  bool done = false;
};

bool Overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a < b + blen && b < a + alen;
}

class DifferentialTest : public ::testing::TestWithParam<Config> {
 protected:
  void RunSeed(uint64_t seed);

  // A random sector-aligned range, mostly small, sometimes up to 128 KiB.
  static std::pair<uint64_t, uint64_t> RandomRange(Prng& p) {
    const uint64_t sectors = p.Chance(1, 8) ? 1 + p.Below(256) : 1 + p.Below(24);
    const uint64_t len = sectors * 512;
    const uint64_t off = p.Below((kDisk - len) / 512 + 1) * 512;
    return {off, len};
  }
};

void DifferentialTest::RunSeed(uint64_t seed) {
  const Config cfg = GetParam();
  ImageWorld w(seed);
  std::vector<std::byte> truth(kDisk);
  if (cfg.base) {
    const auto base = w.MakeBase(kBaseLen, seed * 31 + 7);
    std::copy(base.begin(), base.end(), truth.begin());
  }
  format::CreateOptions o;
  o.virtual_size = kDisk;
  if (cfg.base) o.base_img = "base.raw";
  o.block_size = 4096;
  o.compact_image = cfg.compact;
  o.chunk_size = 64 * kKiB;
  o.storage_grow_unit = 128 * kKiB;
  o.journal_size = cfg.journal ? 8 * kKiB : 0;  // small: recycles happen often
  o.copy_on_read = cfg.copy_on_read;
  ASSERT_TRUE(w.Create(o).ok());
  ImageOptions io{.journal_mode = cfg.mode,
                  .journal_buffer_bytes = 2048,
                  .journal_flush_period = std::chrono::milliseconds(1)};
  auto opened = w.Open(io);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Image> img = std::move(*opened);

  auto verify_all = [&](const char* when, int batch) {
    std::vector<std::byte> all(kDisk);
    ASSERT_TRUE(w.Run(img->Read(0, all)).ok());
    for (uint64_t s = 0; s < kDisk; s += 512) {
      ASSERT_TRUE(std::equal(all.begin() + s, all.begin() + s + 512, truth.begin() + s))
          << "sector " << s / 512 << " differs " << when << " batch " << batch << " seed " << seed;
    }
  };

  Prng p(seed);
  int served_now = 0;   // reads TryReadNow served
  int written_now = 0;  // writes TryWriteNow served
  for (int batch = 0; batch < 250; ++batch) {
    std::vector<Op> ops(1 + p.Below(8));
    std::vector<std::pair<uint64_t, uint64_t>> writes;
    for (Op& op : ops) {
      const uint64_t r = p.Below(10);
      op.kind = r < 5 ? Op::kWrite : (r < 9 ? Op::kRead : Op::kFlush);
      if (op.kind == Op::kFlush) continue;
      // Writes are byte-disjoint from each other (they may share blocks and chunks); reads
      // avoid this batch's writes, so the truth is known.
      for (int tries = 0; tries < 20; ++tries) {
        auto [off, len] = RandomRange(p);
        bool clash = false;
        for (auto [woff, wlen] : writes) clash |= Overlaps(off, len, woff, wlen);
        if (clash) continue;
        op.offset = off;
        op.data = op.kind == Op::kWrite ? Pattern(len, p.NextU64()) : std::vector<std::byte>(len);
        break;
      }
      if (op.data.empty()) op.kind = Op::kFlush;
      if (op.kind == Op::kWrite) writes.emplace_back(op.offset, op.data.size());
    }
    // Reads were chosen before later writes of the batch: drop the ones that now overlap.
    for (Op& op : ops) {
      if (op.kind != Op::kRead) continue;
      for (auto [woff, wlen] : writes) {
        if (Overlaps(op.offset, op.data.size(), woff, wlen)) op.kind = Op::kFlush;
      }
    }
    for (Op& op : ops) {
      auto done = [&op](Status s) {
        op.status = std::move(s);
        op.done = true;
      };
      if (op.kind == Op::kWrite) {
        // Likewise half the writes (served only when in place, needing no metadata).
        if (p.Chance(1, 2) && img->TryWriteNow(op.offset, op.data)) {
          ++written_now;
          done(Status::Ok());
        } else {
          Detach(img->Write(op.offset, op.data), done);
        }
      }
      if (op.kind == Op::kRead) {
        // Half the reads first try the synchronous path (the fio plugin's), with this batch's
        // other requests already in flight; what it declines goes the usual way.
        if (p.Chance(1, 2) && img->TryReadNow(op.offset, op.data)) {
          ++served_now;
          done(Status::Ok());
        } else {
          Detach(img->Read(op.offset, op.data), done);
        }
      }
      if (op.kind == Op::kFlush) Detach(img->Flush(), done);
    }
    w.loop.RunUntil(
        [&] { return std::all_of(ops.begin(), ops.end(), [](const Op& op) { return op.done; }); });
    for (const Op& op : ops) {
      ASSERT_TRUE(op.status.ok()) << op.status.ToString() << " batch " << batch;
      if (op.kind == Op::kRead) {
        ASSERT_TRUE(std::equal(op.data.begin(), op.data.end(), truth.begin() + op.offset))
            << "read at " << op.offset << " len " << op.data.size() << " batch " << batch
            << " seed " << seed;
      }
    }
    for (const Op& op : ops) {
      if (op.kind == Op::kWrite)
        std::copy(op.data.begin(), op.data.end(), truth.begin() + op.offset);
    }
    if (batch % 60 == 59) {  // clean close and reopen
      ASSERT_TRUE(w.Run(img->Close()).ok());
      img.reset();
      auto again = w.Open(io);
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      img = std::move(*again);
      verify_all("after reopen", batch);
    } else if (batch % 60 == 29) {  // crash after a flush: recovery must lose nothing
      ASSERT_TRUE(w.Run(img->Flush()).ok());
      w.loop.RunUntilIdle();  // let background copies finish; the image is then quiescent
      img.reset();
      auto again = w.Open(io);
      if (!cfg.journal) {
        // Nothing to recover from: refused until the user accepts the in-place metadata, which
        // the flush made complete.
        ASSERT_EQ(again.status().code(), StatusCode::kCorruption) << again.status().ToString();
        ASSERT_TRUE(w.MarkClean().ok());
        again = w.Open(io);
      }
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      img = std::move(*again);
      ASSERT_EQ(img->stats().recovered, img->header().has_journal());
      verify_all("after crash", batch);
    }
  }
  verify_all("at the end", 250);
  EXPECT_GT(served_now, 0) << "no read was served by TryReadNow, seed " << seed;
  EXPECT_GT(written_now, 0) << "no write was served by TryWriteNow, seed " << seed;
  ASSERT_TRUE(w.Run(img->Close()).ok());
}

TEST_P(DifferentialTest, MatchesTruthBuffer) {
  for (uint64_t seed : {1, 2, 3}) {
    RunSeed(seed);
    if (HasFatalFailure()) return;
  }
}

std::vector<Config> AllConfigs() {
  std::vector<Config> out;
  for (bool base : {false, true}) {
    for (bool compact : {false, true}) {
      for (bool cor : {false, true}) {
        if (cor && !base) continue;  // copy-on-read needs a base
        for (JournalMode m : {JournalMode::kUnbuffered, JournalMode::kBuffered}) {
          out.push_back({base, compact, cor, m});
          // Without a journal, metadata is only needed with a base or a table.
          if (base || compact) out.push_back({base, compact, cor, m, /*journal=*/false});
        }
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllConfigs, DifferentialTest, ::testing::ValuesIn(AllConfigs()),
                         [](const auto& i) { return Name(i.param); });

}  // namespace
}  // namespace fvd
