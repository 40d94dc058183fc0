#include "sim/disk/sim_disk.h"

#include <gtest/gtest.h>
#include <isa-l/crc64.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "core/util/crc32c.h"

namespace fvd::sim {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kTiB = 1ull << 40;

// Round figures that make times exact: 1 GB/s moves one byte per nanosecond.
DiskConfig Exact() {
  DiskConfig m;
  m.read_latency_ns = 100'000;
  m.write_latency_ns = 50'000;
  m.flush_latency_ns = 200'000;
  m.bandwidth_bytes_per_s = 1'000'000'000;
  m.jitter_ns = 0;
  m.queue_depth = 32;
  m.volatile_cache = true;
  return m;
}

std::vector<std::byte> Fill(size_t n, uint8_t v) {
  return std::vector<std::byte>(n, std::byte{v});
}

uint64_t NowNs(const VirtualLoop& loop) {
  return static_cast<uint64_t>(loop.Now().time_since_epoch().count());
}

// Records one operation's completion: when, and with what status.
struct Done {
  std::optional<uint64_t> at_ns;
  std::optional<Status> status;
  IoCallback Callback(VirtualLoop& loop) {
    return [this, &loop](Status s) {
      EXPECT_FALSE(at_ns.has_value()) << "callback ran twice";
      at_ns = NowNs(loop);
      status = std::move(s);
    };
  }
  bool ok() const { return status.has_value() && status->ok(); }
};

class SimDiskTest : public ::testing::Test {
 protected:
  std::unique_ptr<SimDisk> Make(const DiskConfig& m, uint64_t size = 64 * kMiB, uint64_t seed = 1,
                                Trace* trace = nullptr) {
    return std::make_unique<SimDisk>(loop, m, size, 0, seed, trace);
  }
  Status Write(SimDisk& d, uint64_t offset, std::span<const std::byte> buf,
               WriteMode mode = WriteMode::kCached) {
    Done done;
    Status s = d.SubmitWrite(offset, buf, mode, done.Callback(loop));
    if (!s.ok()) return s;
    loop.RunUntil([&] { return done.status.has_value(); });
    return *done.status;
  }
  Status Read(SimDisk& d, uint64_t offset, std::span<std::byte> buf) {
    Done done;
    Status s = d.SubmitRead(offset, buf, done.Callback(loop));
    if (!s.ok()) return s;
    loop.RunUntil([&] { return done.status.has_value(); });
    return *done.status;
  }
  Status Flush(SimDisk& d) {
    Done done;
    Status s = d.SubmitFlush(done.Callback(loop));
    if (!s.ok()) return s;
    loop.RunUntil([&] { return done.status.has_value(); });
    return *done.status;
  }
  std::vector<std::byte> ReadNow(const SimDisk& d, uint64_t offset, size_t n) {
    std::vector<std::byte> buf(n);
    d.ReadNow(offset, buf);
    return buf;
  }

  VirtualLoop loop;
};

TEST_F(SimDiskTest, SingleOpLatencyIsFixedPlusTransfer) {
  auto d = Make(Exact());
  std::vector<std::byte> buf(4096);
  Done r, w, f;
  ASSERT_TRUE(d->SubmitRead(0, buf, r.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(r.at_ns, 100'000u + 4096u);
  const uint64_t t = NowNs(loop);
  ASSERT_TRUE(d->SubmitWrite(8192, buf, WriteMode::kCached, w.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(*w.at_ns - t, 50'000u + 4096u);
  ASSERT_TRUE(d->SubmitFlush(f.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(*f.at_ns - *w.at_ns, 200'000u);  // a flush moves no bytes over the link
  EXPECT_EQ(d->stats().busy_ns, 2 * 4096u);
}

// Writes at depth complete one per service time, each no sooner than its fixed latency; reads
// do not wait for the service, and a write alone whose service is shorter than its latency
// takes its latency.
TEST_F(SimDiskTest, WritesAtDepthCompleteOnePerServiceTime) {
  DiskConfig m = Exact();
  m.write_service_ns = 80'000;
  m.fresh_write_service_ns = 120'000;
  auto d = Make(m);
  const auto data = Fill(4096, 1);
  for (uint64_t page = 0; page < 4; ++page) ASSERT_TRUE(Write(*d, page * 4096, data).ok());
  loop.RunFor(std::chrono::milliseconds(1));  // every service over
  // Four writes over written pages and a read, submitted together at t.
  const uint64_t t = NowNs(loop);
  Done w[4], r;
  for (uint64_t i = 0; i < 4; ++i)
    ASSERT_TRUE(d->SubmitWrite(i * 4096, data, WriteMode::kCached, w[i].Callback(loop)).ok());
  std::vector<std::byte> buf(4096);
  ASSERT_TRUE(d->SubmitRead(0, buf, r.Callback(loop)).ok());
  loop.RunUntilIdle();
  // Their bytes cross the link by 66.4 us (after 50 us of latency); service ends at 80, 160,
  // 240 and 320 us.
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(*w[i].at_ns - t, 80'000 * (i + 1)) << i;
  EXPECT_EQ(*r.at_ns - t, 100'000u + 4096u);  // its fixed latency, then the free link
  // Two writes into fresh pages at once: the fresh service.
  const uint64_t t2 = NowNs(loop);
  Done f[2];
  for (uint64_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        d->SubmitWrite((100 + i) * 4096, data, WriteMode::kCached, f[i].Callback(loop)).ok());
  }
  loop.RunUntilIdle();
  EXPECT_EQ(*f[0].at_ns - t2, 120'000u);
  EXPECT_EQ(*f[1].at_ns - t2, 240'000u);
  // Alone, a write whose service (30 us) is shorter than its latency (50 us) takes its latency.
  m.write_service_ns = 30'000;
  m.fresh_write_service_ns = 0;  // into fresh space too (the new disk is all fresh)
  auto alone = Make(m);
  const uint64_t t3 = NowNs(loop);
  ASSERT_TRUE(Write(*alone, 0, data).ok());
  EXPECT_EQ(NowNs(loop) - t3, 50'000u + 4096u);
}

// FUA writes at depth complete one per FUA service time (fresh space: its own); plain writes
// keep theirs.
TEST_F(SimDiskTest, FuaWritesAtDepthCompleteOnePerTheirServiceTime) {
  DiskConfig m = Exact();
  m.write_service_ns = 10'000;
  m.fua_write_service_ns = 80'000;
  m.fresh_fua_write_service_ns = 150'000;
  m.fresh_write_latency_ns = 50'000;  // as a written page: only the services differ
  auto d = Make(m);
  const auto data = Fill(4096, 1);
  for (uint64_t page = 0; page < 3; ++page) ASSERT_TRUE(Write(*d, page * 4096, data).ok());
  ASSERT_TRUE(Flush(*d).ok());
  loop.RunFor(std::chrono::milliseconds(1));
  uint64_t t = NowNs(loop);
  Done w[3];
  for (uint64_t i = 0; i < 3; ++i)
    ASSERT_TRUE(d->SubmitWrite(i * 4096, data, WriteMode::kFua, w[i].Callback(loop)).ok());
  loop.RunUntilIdle();
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(*w[i].at_ns - t, 80'000 * (i + 1)) << i;
  t = NowNs(loop);
  Done f[2];
  for (uint64_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(d->SubmitWrite((100 + i) * 4096, data, WriteMode::kFua, f[i].Callback(loop)).ok());
  }
  loop.RunUntilIdle();
  // Into fresh space: 54 us of latency and transfer, then one per fresh FUA service.
  EXPECT_EQ(*f[0].at_ns - t, 150'000u);
  EXPECT_EQ(*f[1].at_ns - t, 300'000u);
}

// The host's share comes first, one request at a time, for every kind of request; the device's
// time starts when it ends.
TEST_F(SimDiskTest, EachRequestFirstTakesItsShareOfTheHostOneAtATime) {
  DiskConfig m = Exact();
  m.host_cost_ns = 30'000;
  auto d = Make(m);
  std::vector<std::byte> buf(4096);
  uint64_t t = NowNs(loop);
  ASSERT_TRUE(Read(*d, 0, buf).ok());
  EXPECT_EQ(NowNs(loop) - t, 30'000u + 100'000u + 4096u);  // alone: host, latency, transfer
  t = NowNs(loop);
  Done r[3];
  for (auto& one : r) ASSERT_TRUE(d->SubmitRead(0, buf, one.Callback(loop)).ok());
  loop.RunUntilIdle();
  // The host is through with them at 30, 60 and 90 us; then 100 us of latency each, and the
  // link (4096 ns a read) is free again by then.
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(*r[i].at_ns - t, 30'000 * (i + 1) + 104'096) << i;
  t = NowNs(loop);
  ASSERT_TRUE(Flush(*d).ok());
  EXPECT_EQ(NowNs(loop) - t, 30'000u + 200'000u);
  // Two disks on one host: a read on each at once, the second waits for the first's share.
  SimHost host;
  auto other = Make(m);
  d->ShareHost(host);
  other->ShareHost(host);
  t = NowNs(loop);
  Done a, b;
  ASSERT_TRUE(d->SubmitRead(0, buf, a.Callback(loop)).ok());
  ASSERT_TRUE(other->SubmitRead(0, buf, b.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(*a.at_ns - t, 30'000u + 104'096u);
  EXPECT_EQ(*b.at_ns - t, 60'000u + 104'096u);  // its own link: no wait for a's bytes
  // A write into fresh space takes the host's time for those instead; over written data, not.
  m.fresh_write_host_cost_ns = 70'000;
  auto f = Make(m);
  const auto data = Fill(4096, 1);
  t = NowNs(loop);
  ASSERT_TRUE(Write(*f, 0, data).ok());
  EXPECT_EQ(NowNs(loop) - t, 70'000u + 50'000u + 4096u);
  t = NowNs(loop);
  ASSERT_TRUE(Write(*f, 0, data).ok());
  EXPECT_EQ(NowNs(loop) - t, 30'000u + 50'000u + 4096u);
}

TEST_F(SimDiskTest, FreshSpaceAndFuaCostTheirOwnLatencies) {
  DiskConfig m = Exact();
  m.fresh_write_latency_ns = 300'000;
  m.fresh_flush_latency_ns = 900'000;
  auto d = Make(m);
  const auto took = [&](auto op) {
    const uint64_t t = NowNs(loop);
    EXPECT_TRUE(op().ok());
    return NowNs(loop) - t;
  };
  const auto data = Fill(4096, 1);
  const auto write = [&](uint64_t at) { return [&, at] { return Write(*d, at, data); }; };
  const auto flush = [&] { return Flush(*d); };
  EXPECT_EQ(took(write(8192)), 300'000u + 4096u);  // a page nobody wrote
  EXPECT_EQ(took(write(8192)), 50'000u + 4096u);   // written now, cached
  EXPECT_EQ(took(flush), 900'000u);                // commits the allocation
  EXPECT_EQ(took(flush), 200'000u);                // nothing fresh since
  EXPECT_EQ(took(write(8192)), 50'000u + 4096u);   // durable now: not fresh either
  // A write that covers a written page and a fresh one is fresh.
  EXPECT_EQ(took([&] { return Write(*d, 8192, Fill(8192, 2)); }), 300'000u + 8192u);
  EXPECT_EQ(took(flush), 900'000u);
  // FUA: its own latency over written space; into fresh space it allocates and commits at
  // once, and leaves nothing for the next flush.
  m.fua_write_latency_ns = 150'000;
  auto fua = Make(m);
  const auto fua_write = [&](uint64_t at) {
    return [&, at] { return Write(*fua, at, data, WriteMode::kFua); };
  };
  EXPECT_EQ(took(fua_write(0)), 300'000u + 900'000u + 4096u);
  EXPECT_EQ(took(fua_write(0)), 150'000u + 4096u);
  EXPECT_EQ(took([&] { return Flush(*fua); }), 200'000u);
  // Without the keys, fresh space costs what any write does.
  auto plain = Make(Exact());
  uint64_t t = NowNs(loop);
  ASSERT_TRUE(Write(*plain, 0, data).ok());
  EXPECT_EQ(NowNs(loop) - t, 50'000u + 4096u);
  t = NowNs(loop);
  ASSERT_TRUE(Write(*plain, 4096, data, WriteMode::kFua).ok());
  EXPECT_EQ(NowNs(loop) - t, 50'000u + 4096u);
}

TEST_F(SimDiskTest, TransferTimeRoundsUp) {
  DiskConfig m = Exact();
  m.read_latency_ns = 0;
  m.bandwidth_bytes_per_s = 3;  // one byte takes 333,333,333.3 ns
  auto d = Make(m);
  std::vector<std::byte> buf(1);
  Done r;
  ASSERT_TRUE(d->SubmitRead(0, buf, r.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(r.at_ns, 333'333'334u);
}

TEST_F(SimDiskTest, CompletionNeverInlineAndBadRangeFailsAtSubmit) {
  auto d = Make(Exact(), 8192);
  std::vector<std::byte> buf(4096);
  Done r;
  ASSERT_TRUE(d->SubmitRead(0, buf, r.Callback(loop)).ok());
  EXPECT_FALSE(r.status.has_value());
  int calls = 0;
  EXPECT_EQ(d->SubmitRead(8000, buf, [&](Status) { ++calls; }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(d->SubmitWrite(4097, buf, WriteMode::kCached, [&](Status) { ++calls; }).code(),
            StatusCode::kInvalidArgument);
  loop.RunUntilIdle();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(calls, 0);
}

TEST_F(SimDiskTest, QueueDepthOneServesInOrder) {
  DiskConfig m = Exact();
  m.queue_depth = 1;
  auto d = Make(m);
  std::vector<std::byte> a(4096), b(4096);
  Done first, second;
  ASSERT_TRUE(d->SubmitRead(0, a, first.Callback(loop)).ok());
  ASSERT_TRUE(d->SubmitRead(4096, b, second.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(first.at_ns, 104'096u);
  EXPECT_EQ(second.at_ns, 2 * 104'096u);  // admitted only when the first completed
  EXPECT_EQ(d->stats().queued_ops, 1u);
}

TEST_F(SimDiskTest, DeepQueueOverlapsFixedLatency) {
  auto d = Make(Exact());
  std::vector<std::byte> a(4096), b(4096);
  Done first, second;
  ASSERT_TRUE(d->SubmitRead(0, a, first.Callback(loop)).ok());
  ASSERT_TRUE(d->SubmitRead(4096, b, second.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(first.at_ns, 104'096u);
  EXPECT_EQ(second.at_ns, 104'096u + 4096u);  // only the link transfer is serialized
  EXPECT_EQ(d->stats().queued_ops, 0u);
}

TEST_F(SimDiskTest, ConcurrentTransfersShareTheLink) {
  DiskConfig m = Exact();
  m.write_latency_ns = 1'000;
  m.bandwidth_bytes_per_s = 1'000'000;  // 1 MB/s
  auto d = Make(m);
  const auto a = Fill(1'000'000, 1), b = Fill(1'000'000, 2);
  Done first, second;
  ASSERT_TRUE(d->SubmitWrite(0, a, WriteMode::kCached, first.Callback(loop)).ok());
  ASSERT_TRUE(d->SubmitWrite(2 * kMiB, b, WriteMode::kCached, second.Callback(loop)).ok());
  loop.RunUntilIdle();
  EXPECT_EQ(first.at_ns, 1'000u + 1'000'000'000u);
  EXPECT_EQ(second.at_ns, 1'000u + 2'000'000'000u);
  EXPECT_EQ(d->stats().busy_ns, 2'000'000'000u);
}

TEST_F(SimDiskTest, HddSeekGrowsWithDistanceUpToTheCap) {
  DiskConfig m;
  ASSERT_TRUE(ApplyPreset("hdd", m));
  m.jitter_ns = 0;
  m.queue_depth = 1;
  auto d = Make(m, 512 * kGiB);
  std::vector<std::byte> buf(4096);
  // Each read's latency, serviced alone; the head ends where the previous read ended.
  auto latency = [&](uint64_t offset) {
    const uint64_t t = NowNs(loop);
    Done r;
    EXPECT_TRUE(d->SubmitRead(offset, buf, r.Callback(loop)).ok());
    loop.RunUntilIdle();
    return *r.at_ns - t;
  };
  const uint64_t near = latency(0);                       // head at 0: no seek
  const uint64_t ten = latency(4096 + 10 * kGiB);         // 10 GiB away
  const uint64_t twenty = latency(2 * 4096 + 30 * kGiB);  // 20 GiB further
  const uint64_t far = latency(3 * 4096 + 330 * kGiB);    // 300 GiB: capped
  EXPECT_EQ(ten - near, 1'000'000u);
  EXPECT_EQ(twenty - near, 2'000'000u);
  EXPECT_EQ(far - near, 10'000'000u);
}

TEST_F(SimDiskTest, WriteThenReadReturnsDataAndUnwrittenReadsZeros) {
  auto d = Make(Exact());
  std::vector<std::byte> data(10'000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7 + 3);
  ASSERT_TRUE(Write(*d, 1000, data).ok());  // unaligned, across three pages
  std::vector<std::byte> buf(10'000, std::byte{0x55});
  Done r;
  ASSERT_TRUE(d->SubmitRead(1000, buf, r.Callback(loop)).ok());
  loop.RunUntilIdle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(buf, data);
  EXPECT_EQ(ReadNow(*d, 20'000, 100), Fill(100, 0));
  EXPECT_EQ(d->stats().writes, 1u);
  EXPECT_EQ(d->stats().bytes_written, 10'000u);
  EXPECT_EQ(d->stats().bytes_read, 10'000u);
}

// One cached 4 KiB write over old bytes, completed but never flushed, then a crash: what the
// sector image says happened to it.
enum class Seen { kOld, kNew, kMixed };

Seen Classify(const std::vector<std::byte>& image, std::byte old_v, std::byte new_v) {
  bool any_old = false, any_new = false;
  for (size_t s = 0; s < image.size() / 512; ++s) {
    const std::byte first = image[s * 512];
    EXPECT_TRUE(first == old_v || first == new_v);
    for (size_t i = 0; i < 512; ++i) {
      if (image[s * 512 + i] != first) {
        ADD_FAILURE() << "sector " << s << " mixes old and new bytes";
        return Seen::kMixed;
      }
    }
    (first == new_v ? any_new : any_old) = true;
  }
  if (any_old && any_new) return Seen::kMixed;
  return any_new ? Seen::kNew : Seen::kOld;
}

TEST_F(SimDiskTest, UnflushedWriteIsLostSurvivesOrTornBySector) {
  int seen[3] = {0, 0, 0};
  DiskStats total;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto d = Make(Exact());
    d->WriteNowDurable(8192, Fill(4096, 0xAA));
    ASSERT_TRUE(Write(*d, 8192, Fill(4096, 0xBB)).ok());
    EXPECT_EQ(ReadNow(*d, 8192, 4096), Fill(4096, 0xBB));  // reads see the cache
    Prng rng(seed);
    d->Crash(rng);
    ++seen[static_cast<int>(Classify(ReadNow(*d, 8192, 4096), std::byte{0xAA}, std::byte{0xBB}))];
    total.writes_lost += d->stats().writes_lost;
    total.writes_survived += d->stats().writes_survived;
    total.writes_torn += d->stats().writes_torn;
    EXPECT_EQ(d->stats().crashes, 1u);
  }
  EXPECT_GT(seen[static_cast<int>(Seen::kOld)], 20);
  EXPECT_GT(seen[static_cast<int>(Seen::kNew)], 20);
  EXPECT_GT(seen[static_cast<int>(Seen::kMixed)], 20);
  EXPECT_EQ(total.writes_lost + total.writes_survived + total.writes_torn, 200u);
  EXPECT_GT(total.writes_torn, 0u);
}

TEST_F(SimDiskTest, FlushedAndFuaDataSurviveEveryCrash) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    auto d = Make(Exact());
    ASSERT_TRUE(Write(*d, 0, Fill(8192, 1)).ok());
    ASSERT_TRUE(Flush(*d).ok());
    ASSERT_TRUE(Write(*d, 0, Fill(4096, 2), WriteMode::kFua).ok());
    ASSERT_TRUE(Write(*d, 4096, Fill(4096, 3)).ok());  // cached: may go either way
    ASSERT_TRUE(Write(*d, 16384, Fill(4096, 4)).ok());
    ASSERT_TRUE(Flush(*d).ok());
    Prng rng(seed);
    d->Crash(rng);
    EXPECT_EQ(ReadNow(*d, 0, 4096), Fill(4096, 2)) << "seed " << seed;
    EXPECT_EQ(ReadNow(*d, 16384, 4096), Fill(4096, 4)) << "seed " << seed;
    EXPECT_EQ(d->stats().writes_lost + d->stats().writes_survived + d->stats().writes_torn, 0u);
  }
}

// A FUA write over an older cached write: neither a later flush nor a crash may bring the older
// bytes back over the durable newer ones.
TEST_F(SimDiskTest, FuaOverCachedWriteStaysNewest) {
  for (uint64_t seed = 0; seed < 30; ++seed) {
    auto d = Make(Exact());
    ASSERT_TRUE(Write(*d, 0, Fill(8192, 1)).ok());
    ASSERT_TRUE(Write(*d, 0, Fill(4096, 2), WriteMode::kFua).ok());
    EXPECT_EQ(ReadNow(*d, 0, 4096), Fill(4096, 2));
    Prng rng(seed);
    d->Crash(rng);
    EXPECT_EQ(ReadNow(*d, 0, 4096), Fill(4096, 2)) << "seed " << seed;
  }
  auto d = Make(Exact());
  ASSERT_TRUE(Write(*d, 0, Fill(8192, 1)).ok());
  ASSERT_TRUE(Write(*d, 0, Fill(4096, 2), WriteMode::kFua).ok());
  ASSERT_TRUE(Flush(*d).ok());
  Prng rng(7);
  d->Crash(rng);
  EXPECT_EQ(ReadNow(*d, 0, 4096), Fill(4096, 2));
  EXPECT_EQ(ReadNow(*d, 4096, 4096), Fill(4096, 1));
}

// Runs `setup` on fresh disks crashed with seeds 0..n-1; returns how many kept the bytes.
template <typename Setup>
int SurvivorsOver(int n, Setup setup) {
  int kept = 0;
  for (int seed = 0; seed < n; ++seed) {
    VirtualLoop loop;
    SimDisk d(loop, Exact(), 64 * kMiB, 0, 1, nullptr);
    setup(loop, d);
    Prng rng(static_cast<uint64_t>(seed));
    d.Crash(rng);
    std::vector<std::byte> buf(4096);
    d.ReadNow(0, buf);
    if (buf == Fill(4096, 9)) ++kept;
  }
  return kept;
}

TEST_F(SimDiskTest, WriteCompletedAfterFlushSubmitIsNotMadeDurableByIt) {
  const auto data = Fill(4096, 9);
  const int kept = SurvivorsOver(60, [&](VirtualLoop& l, SimDisk& d) {
    Done w, f;
    ASSERT_TRUE(d.SubmitFlush(f.Callback(l)).ok());                               // done at 200 us
    ASSERT_TRUE(d.SubmitWrite(0, data, WriteMode::kCached, w.Callback(l)).ok());  // 54 us
    l.RunUntilIdle();
    ASSERT_TRUE(w.ok() && f.ok());
    ASSERT_LT(*w.at_ns, *f.at_ns);
  });
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 60);  // some crashes lose it: the flush did not cover it
  // The control: the same write completed before the flush was submitted always survives.
  EXPECT_EQ(
      SurvivorsOver(60,
                    [&](VirtualLoop& l, SimDisk& d) {
                      Done w, f;
                      ASSERT_TRUE(d.SubmitWrite(0, data, WriteMode::kCached, w.Callback(l)).ok());
                      l.RunUntilIdle();
                      ASSERT_TRUE(d.SubmitFlush(f.Callback(l)).ok());
                      l.RunUntilIdle();
                    }),
      60);
}

TEST_F(SimDiskTest, InFlightFlushDoesNotCount) {
  const auto data = Fill(4096, 9);
  std::vector<Status> flush_status;
  const int kept = SurvivorsOver(60, [&](VirtualLoop& l, SimDisk& d) {
    Done w;
    ASSERT_TRUE(d.SubmitWrite(0, data, WriteMode::kCached, w.Callback(l)).ok());
    l.RunUntilIdle();
    ASSERT_TRUE(d.SubmitFlush([&](Status s) { flush_status.push_back(s); }).ok());
    l.RunFor(std::chrono::microseconds(100));  // the flush needs 200 us: crash halfway
  });
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 60);
  EXPECT_TRUE(flush_status.empty());  // the crashed loops were never run again
}

TEST_F(SimDiskTest, WithoutVolatileCacheCompletedWritesAreDurable) {
  DiskConfig m = Exact();
  m.volatile_cache = false;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    auto d = Make(m);
    ASSERT_TRUE(Write(*d, 0, Fill(4096, 5)).ok());
    EXPECT_EQ(d->allocated_bytes(), 4096u);
    Prng rng(seed);
    d->Crash(rng);
    EXPECT_EQ(ReadNow(*d, 0, 4096), Fill(4096, 5));
  }
}

// A write still in flight at the crash is not durable even without a cache: it may land whole,
// not at all, or torn, though its callback reports the crash.
TEST_F(SimDiskTest, InFlightWriteMayLandAtCrash) {
  DiskConfig m = Exact();
  m.volatile_cache = false;
  const auto data = Fill(4096, 9);
  int seen[3] = {0, 0, 0};
  for (uint64_t seed = 0; seed < 100; ++seed) {
    auto d = Make(m);
    Done w;
    ASSERT_TRUE(d->SubmitWrite(0, data, WriteMode::kFua, w.Callback(loop)).ok());
    loop.RunFor(std::chrono::microseconds(10));
    Prng rng(seed);
    d->Crash(rng);
    ++seen[static_cast<int>(Classify(ReadNow(*d, 0, 4096), std::byte{0}, std::byte{9}))];
    loop.RunUntilIdle();
    ASSERT_TRUE(w.status.has_value());
    EXPECT_EQ(w.status->code(), StatusCode::kIoError);
  }
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_GT(seen[2], 0);
}

TEST_F(SimDiskTest, CrashFailsOpsInServiceAndQueuedInOrderNeverInline) {
  DiskConfig m = Exact();
  m.queue_depth = 2;
  auto d = Make(m);
  const auto data = Fill(4096, 1);
  std::vector<std::byte> rbuf(4096);
  std::vector<int> order;
  std::vector<Status> statuses;
  auto cb = [&](int i) {
    return [&, i](Status s) {
      order.push_back(i);
      statuses.push_back(std::move(s));
    };
  };
  ASSERT_TRUE(d->SubmitWrite(0, data, WriteMode::kCached, cb(0)).ok());
  ASSERT_TRUE(d->SubmitRead(4096, rbuf, cb(1)).ok());
  ASSERT_TRUE(d->SubmitFlush(cb(2)).ok());                               // queued
  ASSERT_TRUE(d->SubmitWrite(8192, data, WriteMode::kFua, cb(3)).ok());  // queued
  EXPECT_EQ(d->stats().queued_ops, 2u);
  loop.RunFor(std::chrono::microseconds(10));
  Prng rng(3);
  d->Crash(rng);
  EXPECT_FALSE(d->alive());
  EXPECT_TRUE(order.empty());  // never inline from Crash
  const uint64_t crash_ns = NowNs(loop);
  loop.RunUntilIdle();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  for (const Status& s : statuses) {
    EXPECT_EQ(s.code(), StatusCode::kIoError);
    EXPECT_EQ(s.message(), "disk crashed");
  }
  EXPECT_EQ(NowNs(loop), crash_ns);  // the cancelled completions never ran later
  EXPECT_EQ(d->stats().writes_lost + d->stats().writes_survived + d->stats().writes_torn, 2u);
}

// A write done right here takes no virtual time and completes now: cached, so a crash before a
// flush keeps it, loses it or tears it; FUA (or a flush) makes it durable. Dead: declined.
TEST_F(SimDiskTest, TryWriteNowCompletesNowIntoTheCacheAsAWriteWould) {
  int seen[3] = {0, 0, 0};
  for (uint64_t seed = 0; seed < 100; ++seed) {
    auto d = Make(Exact());
    d->WriteNowDurable(8192, Fill(4096, 0xAA));
    ASSERT_TRUE(d->TryWriteNow(8192, Fill(4096, 0xBB), WriteMode::kCached));
    ASSERT_TRUE(d->TryWriteNow(0, Fill(4096, 0xCC), WriteMode::kFua));
    EXPECT_EQ(NowNs(loop), 0u);
    EXPECT_EQ(loop.pending(), 0u);  // nothing scheduled: it completed
    EXPECT_EQ(d->stats().writes, 2u);
    EXPECT_EQ(ReadNow(*d, 8192, 4096), Fill(4096, 0xBB));
    Prng rng(seed);
    d->Crash(rng);
    EXPECT_EQ(ReadNow(*d, 0, 4096), Fill(4096, 0xCC));
    ++seen[static_cast<int>(Classify(ReadNow(*d, 8192, 4096), std::byte{0xAA}, std::byte{0xBB}))];
    EXPECT_FALSE(d->TryWriteNow(0, Fill(4096, 0xDD), WriteMode::kCached));  // dead
  }
  EXPECT_GT(seen[static_cast<int>(Seen::kOld)], 10);
  EXPECT_GT(seen[static_cast<int>(Seen::kNew)], 10);
  EXPECT_GT(seen[static_cast<int>(Seen::kMixed)], 10);

  auto d = Make(Exact());
  EXPECT_FALSE(d->TryWriteNow(d->size(), Fill(512, 1), WriteMode::kCached));  // bad range
  ASSERT_TRUE(d->TryWriteNow(4096, Fill(4096, 1), WriteMode::kCached));
  ASSERT_TRUE(Flush(*d).ok());
  Prng rng(7);
  d->Crash(rng);
  EXPECT_EQ(ReadNow(*d, 4096, 4096), Fill(4096, 1));  // flushed: durable
}

TEST_F(SimDiskTest, DeadDiskFailsNewSubmissionsThroughTheCallback) {
  auto d = Make(Exact());
  Prng rng(1);
  d->Crash(rng);
  std::vector<std::byte> buf(4096);
  Done r, f;
  ASSERT_TRUE(d->SubmitRead(0, buf, r.Callback(loop)).ok());
  ASSERT_TRUE(d->SubmitFlush(f.Callback(loop)).ok());
  EXPECT_FALSE(r.status.has_value());
  loop.RunUntilIdle();
  ASSERT_TRUE(r.status && f.status);
  EXPECT_EQ(r.status->code(), StatusCode::kIoError);
  EXPECT_EQ(f.status->code(), StatusCode::kIoError);
  EXPECT_EQ(d->SubmitRead(d->size(), buf, r.Callback(loop)).code(),
            StatusCode::kInvalidArgument);  // a bad range is still the caller's bug
}

TEST_F(SimDiskTest, ReviveServesTheCrashedImage) {
  DiskConfig m = Exact();
  auto d = Make(m);
  ASSERT_TRUE(Write(*d, 0, Fill(4096, 1)).ok());
  ASSERT_TRUE(Flush(*d).ok());
  ASSERT_TRUE(Write(*d, 0, Fill(4096, 2)).ok());
  Prng rng(11);
  d->Crash(rng);
  const auto image = ReadNow(*d, 0, 4096);
  d->Revive();
  EXPECT_TRUE(d->alive());
  std::vector<std::byte> buf(4096);
  Done r;
  const uint64_t t = NowNs(loop);
  ASSERT_TRUE(d->SubmitRead(0, buf, r.Callback(loop)).ok());
  loop.RunUntilIdle();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(buf, image);
  EXPECT_EQ(*r.at_ns - t, 104'096u);  // the link is free again at once
  ASSERT_TRUE(Write(*d, 0, Fill(4096, 3)).ok());
  EXPECT_EQ(ReadNow(*d, 0, 4096), Fill(4096, 3));
}

// A seeded mix of operations with jitter and a crash halfway: completion times, image, trace.
struct RunResult {
  std::vector<uint64_t> times;
  uint32_t image_crc = 0;
  uint64_t digest = 0;
  bool operator==(const RunResult&) const = default;
};

RunResult RunMix(uint64_t jitter_seed, uint64_t crash_seed) {
  VirtualLoop loop;
  Trace trace;
  DiskConfig m;
  EXPECT_TRUE(ApplyPreset("ssd", m));
  m.queue_depth = 4;
  SimDisk d(loop, m, 4 * kMiB, 7, jitter_seed, &trace);
  Prng ops(42);
  RunResult out;
  std::vector<std::vector<std::byte>> bufs;
  for (int i = 0; i < 200; ++i) {
    bufs.emplace_back(4096, static_cast<std::byte>(i));
    const uint64_t offset = ops.Below(1024) * 4096;
    auto cb = [&](Status) { out.times.push_back(NowNs(loop)); };
    const uint64_t kind = ops.Below(10);
    Status s = kind < 5   ? d.SubmitWrite(offset, bufs.back(), WriteMode::kCached, cb)
               : kind < 9 ? d.SubmitRead(offset, bufs.back(), cb)
                          : d.SubmitFlush(cb);
    EXPECT_TRUE(s.ok());
    loop.RunFor(std::chrono::microseconds(ops.Below(50)));
    if (i == 150) {
      Prng rng(crash_seed);
      d.Crash(rng);
      d.Revive();
    }
  }
  loop.RunUntilIdle();
  std::vector<std::byte> image(4 * kMiB);
  d.ReadNow(0, image);
  out.image_crc = Crc32c(image);
  out.digest = trace.digest();
  return out;
}

TEST_F(SimDiskTest, SameSeedsGiveSameTimesImageAndDigest) {
  const RunResult a = RunMix(5, 9), b = RunMix(5, 9);
  EXPECT_EQ(a.times.size(), 200u);
  EXPECT_EQ(a, b);
  const RunResult other_jitter = RunMix(6, 9);
  EXPECT_NE(other_jitter.times, a.times);
  EXPECT_NE(other_jitter.digest, a.digest);
  EXPECT_NE(RunMix(5, 10).image_crc, a.image_crc);
}

TEST_F(SimDiskTest, TraceFoldsEverySubmitAndCompletion) {
  Trace trace;
  auto d = Make(Exact(), 64 * kMiB, 1, &trace);
  ASSERT_TRUE(Write(*d, 0, Fill(4096, 1)).ok());
  ASSERT_TRUE(Flush(*d).ok());
  EXPECT_EQ(trace.events(), 4u);
  EXPECT_NE(trace.digest(), 0u);
}

// The digest is the CRC-64 of every field's 8 little-endian bytes in order, however Add
// batches them: computed here one field per ISA-L call, for events shorter and longer than a
// batch.
TEST(TraceTest, DigestIsTheCrcOfEveryFieldInOrder) {
  std::vector<uint64_t> long_event;
  for (uint64_t i = 0; i < 37; ++i) long_event.push_back(i * 0x9E3779B97F4A7C15ull);
  uint64_t want = 0;
  auto fold = [&](uint64_t f) {
    uint8_t le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(f >> (8 * i));
    want = crc64_ecma_refl(want, le, 8);
  };
  for (uint64_t f : {1ull, 2ull, 0xFFFF'FFFF'FFFF'FFFFull}) fold(f);
  for (uint64_t f : long_event) fold(f);

  Trace trace;
  trace.Add({1, 2, 0xFFFF'FFFF'FFFF'FFFFull});
  trace.Add({long_event[0],  long_event[1],  long_event[2],  long_event[3],  long_event[4],
             long_event[5],  long_event[6],  long_event[7],  long_event[8],  long_event[9],
             long_event[10], long_event[11], long_event[12], long_event[13], long_event[14],
             long_event[15], long_event[16], long_event[17], long_event[18], long_event[19],
             long_event[20], long_event[21], long_event[22], long_event[23], long_event[24],
             long_event[25], long_event[26], long_event[27], long_event[28], long_event[29],
             long_event[30], long_event[31], long_event[32], long_event[33], long_event[34],
             long_event[35], long_event[36]});
  EXPECT_EQ(trace.digest(), want);
  EXPECT_EQ(trace.events(), 2u);
}

TEST_F(SimDiskTest, MemoryIsProportionalToDataWritten) {
  auto d = Make(Exact(), kTiB);
  const auto data = Fill(kMiB, 0x5A);
  ASSERT_TRUE(Write(*d, 700 * kGiB, data).ok());
  EXPECT_LE(d->allocated_bytes(), 2 * kMiB);  // the cache copy plus the current pages
  EXPECT_GE(d->allocated_bytes(), kMiB);
  ASSERT_TRUE(Flush(*d).ok());
  EXPECT_EQ(d->allocated_bytes(), kMiB);
  EXPECT_EQ(ReadNow(*d, 700 * kGiB, kMiB), data);
}

TEST_F(SimDiskTest, ResizeChangesSizeAtCompletionAndShrinkDropsData) {
  auto d = Make(Exact(), 16384);
  ASSERT_TRUE(Write(*d, 8192, Fill(8192, 7)).ok());  // cached, over the part to drop
  ASSERT_TRUE(Write(*d, 4096, Fill(4096, 6), WriteMode::kFua).ok());
  Done shrink;
  ASSERT_TRUE(d->SubmitResize(10000, shrink.Callback(loop)).ok());
  EXPECT_EQ(d->size(), 16384u);
  loop.RunUntilIdle();
  ASSERT_TRUE(shrink.ok());
  EXPECT_EQ(d->size(), 10000u);
  Done grow;
  ASSERT_TRUE(d->SubmitResize(32768, grow.Callback(loop)).ok());
  loop.RunUntilIdle();
  ASSERT_TRUE(grow.ok());
  std::vector<std::byte> expect = Fill(8192, 7);
  std::fill(expect.begin() + (10000 - 8192), expect.end(), std::byte{0});
  EXPECT_EQ(ReadNow(*d, 8192, 8192), expect);
  EXPECT_EQ(ReadNow(*d, 16384, 16384), Fill(16384, 0));
  ASSERT_TRUE(Flush(*d).ok());  // the dropped tail of the cached write must not come back
  EXPECT_EQ(ReadNow(*d, 8192, 8192), expect);
  EXPECT_EQ(ReadNow(*d, 4096, 4096), Fill(4096, 6));
  EXPECT_EQ(d->stats().resizes, 2u);
}

TEST(PresetTest, NamedModels) {
  DiskConfig m;
  ASSERT_TRUE(ApplyPreset("ssd", m));
  EXPECT_EQ(m.read_latency_ns, 80'000u);
  EXPECT_EQ(m.queue_depth, 32u);
  EXPECT_TRUE(m.volatile_cache);
  ASSERT_TRUE(ApplyPreset("hdd", m));
  EXPECT_EQ(m.read_latency_ns, 4'000'000u);
  EXPECT_EQ(m.max_seek_ns, 10'000'000u);
  EXPECT_EQ(m.queue_depth, 4u);
  ASSERT_TRUE(ApplyPreset("network", m));
  EXPECT_EQ(m.bandwidth_bytes_per_s, 125'000'000u);
  EXPECT_FALSE(m.volatile_cache);
  EXPECT_TRUE(m.shared_bandwidth);
  EXPECT_EQ(m.preset, "network");
  EXPECT_FALSE(ApplyPreset("floppy", m));
  EXPECT_TRUE(ApplyPreset("", m));
  EXPECT_EQ(m.read_latency_ns, 500'000u);  // "" leaves the fields alone
}

}  // namespace
}  // namespace fvd::sim

namespace fvd::sim {
namespace {

TEST_F(SimDiskTest, InitialContentIsSeededComputedAndKeptUnderPartialWrites) {
  auto d = Make(Exact(), 1ull << 40);  // a 1 TiB base
  d->SetInitialContent(/*seed=*/5, /*nonzero_bytes=*/10 * kMiB + 100);
  const auto a = ReadNow(*d, 0, 8192);
  EXPECT_NE(a, std::vector<std::byte>(8192));  // not zeros
  auto e = Make(Exact(), 1ull << 40);
  e->SetInitialContent(5, 10 * kMiB + 100);
  EXPECT_EQ(ReadNow(*e, 0, 8192), a);  // same seed, same content
  e->SetInitialContent(6, 10 * kMiB + 100);
  EXPECT_NE(ReadNow(*e, 0, 8192), a);  // another seed, other content
  // The sector holding the boundary has content (it starts below nonzero_bytes); the sectors
  // after it read zeros, also inside the page holding the boundary.
  EXPECT_NE(ReadNow(*d, 10 * kMiB, 512), std::vector<std::byte>(512));
  const auto tail = ReadNow(*d, 10 * kMiB + 512, 3584);
  EXPECT_EQ(tail, std::vector<std::byte>(3584));
  EXPECT_EQ(d->allocated_bytes(), 0u);  // reading costs no memory
  // A partial write keeps the initial content around it in its page.
  const std::vector<std::byte> small(512, std::byte{0x5A});
  ASSERT_TRUE(Write(*d, 1024, small, WriteMode::kFua).ok());
  auto after = ReadNow(*d, 0, 8192);
  EXPECT_TRUE(std::equal(after.begin(), after.begin() + 1024, a.begin()));
  EXPECT_TRUE(std::equal(after.begin() + 1024, after.begin() + 1536, small.begin()));
  EXPECT_TRUE(std::equal(after.begin() + 1536, after.end(), a.begin() + 1536));
}

}  // namespace
}  // namespace fvd::sim
