// The whole-image prefetcher (prefetcher.h) and its pacing arithmetic (prefetch_pacing.h), on
// in-memory devices with virtual time.
#include "core/image/prefetcher.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "core/image/image.h"
#include "core/image/prefetch_pacing.h"
#include "core/image/prefetch_profile.h"
#include "core/testing/image_world.h"

namespace fvd {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using testing::ImageWorld;
using testing::Op;

constexpr uint64_t kKiB = 1024, kMiB = 1 << 20;

// ---- ThroughputMeter and RateCap ----

TEST(ThroughputMeterTest, WindowClosesOnlyAfterMeasureTimeOfBusyTime) {
  ThroughputMeter m(milliseconds(100), 80);
  EXPECT_FALSE(m.Add(500, milliseconds(60)));
  EXPECT_FALSE(m.average().has_value());
  EXPECT_TRUE(m.Add(500, milliseconds(40)));  // 1000 bytes in 100 ms
  ASSERT_TRUE(m.average().has_value());
  EXPECT_DOUBLE_EQ(*m.average(), 10000.0);
  EXPECT_EQ(m.windows(), 1u);
}

TEST(ThroughputMeterTest, LaterWindowsAreSmoothedWithAlpha) {
  ThroughputMeter m(milliseconds(100), 80);
  m.Add(1000, milliseconds(100));  // 10000 B/s
  m.Add(2000, milliseconds(100));  // 20000 B/s: 0.8 * 10000 + 0.2 * 20000
  EXPECT_DOUBLE_EQ(*m.average(), 12000.0);
  m.Add(4000, milliseconds(200));  // 20000 B/s again: 0.8 * 12000 + 0.2 * 20000
  EXPECT_DOUBLE_EQ(*m.average(), 13600.0);
  EXPECT_TRUE(m.Below(14000.0));
  EXPECT_FALSE(m.Below(13000.0));
}

TEST(ThroughputMeterTest, ResetForgetsAverageAndOpenWindow) {
  ThroughputMeter m(milliseconds(100), 50);
  m.Add(1000, milliseconds(100));
  m.Add(900, milliseconds(90));
  m.Reset();
  EXPECT_FALSE(m.average().has_value());
  EXPECT_FALSE(m.Below(1e12));                 // no average: never "below"
  EXPECT_FALSE(m.Add(100, milliseconds(10)));  // the 90 ms before the reset do not count
  EXPECT_TRUE(m.Add(9000, milliseconds(90)));
  EXPECT_DOUBLE_EQ(*m.average(), 9100 / 0.1);
}

TEST(RateCapTest, SpacesIoByTheCapAndDoesNotSaveUpIdleTime) {
  RateCap cap(1 * kMiB);  // bytes per second
  const TimePoint t0{};
  EXPECT_EQ(cap.Admit(t0, 512 * kKiB), t0);
  EXPECT_EQ(cap.Admit(t0, 512 * kKiB), t0 + milliseconds(500));
  EXPECT_EQ(cap.Admit(t0 + milliseconds(600), 256 * kKiB), t0 + seconds(1));
  // After a long idle spell the next I/O starts at once, and the one after is spaced again.
  EXPECT_EQ(cap.Admit(t0 + seconds(10), 1 * kMiB), t0 + seconds(10));
  EXPECT_EQ(cap.Admit(t0 + seconds(10), 1), t0 + seconds(11));
}

TEST(RateCapTest, ZeroMeansNoCap) {
  RateCap cap(0);
  EXPECT_FALSE(cap.enabled());
  EXPECT_EQ(cap.Admit(TimePoint{}, 1 << 30), TimePoint{});
  EXPECT_EQ(cap.Admit(TimePoint{}, 1 << 30), TimePoint{});
}

TEST(QueueDelayPacerTest, QueueingDoublesTheGapAndReadsThatDoNotQueueHalveIt) {
  QueueDelayPacer p(milliseconds(1), milliseconds(100));
  ASSERT_TRUE(p.enabled());
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), Duration::zero());    // the least so far
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(9)), Duration::zero());    // queued 1 ms: the target
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(10)), milliseconds(10));   // 2 ms: a gap of the read
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(12)), milliseconds(20));   // still: twice that
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(60)), milliseconds(60));   // at least the read's time
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(30)), milliseconds(100));  // 120, capped
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(30)), milliseconds(100));  // stays at the cap
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), milliseconds(50));    // no queue: half
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(9)), milliseconds(25));    // within the target: half
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), microseconds(12500));
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), microseconds(6250));
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), microseconds(3125));
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), nanoseconds(1562500));
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), Duration::zero());  // 0.78 ms: below the target
  EXPECT_EQ(p.gap(), Duration::zero());
}

TEST(QueueDelayPacerTest, EachReadSizeHasItsOwnLeastTime) {
  QueueDelayPacer p(milliseconds(1), milliseconds(100));
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), Duration::zero());
  EXPECT_EQ(p.Add(256 * kKiB, milliseconds(3)), Duration::zero());  // a new size: no history
  EXPECT_EQ(p.Add(256 * kKiB, milliseconds(5)), milliseconds(5));   // 2 ms over its least
  // A faster read lowers the bar for its size (and did not queue: the gap halves) ...
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(2)), microseconds(2500));
  // ... so a read as slow as the first one has now queued 6 ms.
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), milliseconds(8));
}

TEST(QueueDelayPacerTest, ATargetOfZeroIsOff) {
  QueueDelayPacer p(Duration::zero(), milliseconds(100));
  EXPECT_FALSE(p.enabled());
  EXPECT_EQ(p.Add(1 * kMiB, milliseconds(8)), Duration::zero());
  EXPECT_EQ(p.Add(1 * kMiB, seconds(8)), Duration::zero());
}

// ---- The prefetcher in an image ----

// A RandomSource that returns the given unit doubles in turn (then 0.99...).
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::deque<double> values) : values_(std::move(values)) {}
  uint64_t NextU64() override {
    double v = 0.999;
    if (!values_.empty()) {
      v = values_.front();
      values_.pop_front();
    }
    ++draws_;
    return static_cast<uint64_t>(v * 0x1.0p53) << 11;
  }
  int draws() const { return draws_; }

 private:
  std::deque<double> values_;
  int draws_ = 0;
};

// FVD's own prefetch control (the coin, one read per slot), which some tests are about.
ImageOptions Fvd() {
  ImageOptions o;
  o.prefetch_control = PrefetchControl::kFvd;
  return o;
}

format::CreateOptions PrefetchOptions(bool compact = false) {
  format::CreateOptions o = testing::SmallOverlayOptions(compact);
  o.prefetch_start_delay = 2;
  return o;
}

// Header tuning shared by the tests: small slots so a prefetch takes many steps.
void SmallSlots(format::Header& h) {
  h.num_prefetch_slots = 2;
  h.bytes_per_prefetch = 64 * kKiB;
}

class PrefetcherTest : public ::testing::Test {
 protected:
  void SetUp() override { base = world.MakeBase(3 * kMiB, 41); }

  void Create(format::CreateOptions o, const std::function<void(format::Header&)>& tweak) {
    ASSERT_TRUE(world
                    .Create(o,
                            [&](format::Header& h) {
                              SmallSlots(h);
                              if (tweak) tweak(h);
                            })
                    .ok());
  }
  std::unique_ptr<Image> OpenOrDie(RandomSource* coin = nullptr, ImageOptions o = {}) {
    auto img = coin != nullptr ? world.Open(o, *coin) : world.Open(o);
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return img.ok() ? std::move(*img) : nullptr;
  }
  std::vector<std::byte> ReadAll(Image& img, uint64_t off, uint64_t len) {
    std::vector<std::byte> out(len);
    Status s = world.Run(img.Read(off, out));
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  // Runs the loop until the image's prefetch finished or failed (or nothing is left to run).
  void RunUntilPrefetchEnds(Image& img) {
    world.loop.RunUntil(
        [&] { return img.stats().prefetch_finished || img.stats().prefetch_failed; });
  }
  // Reads the whole disk and compares it with the base plus `writes` (offset -> bytes).
  void ExpectContents(Image& img, const std::map<uint64_t, std::vector<std::byte>>& writes) {
    std::vector<std::byte> want(img.size(), std::byte{0});
    std::copy(base.begin(), base.end(), want.begin());
    for (const auto& [off, bytes] : writes)
      std::copy(bytes.begin(), bytes.end(), want.begin() + static_cast<ptrdiff_t>(off));
    EXPECT_TRUE(ReadAll(img, 0, img.size()) == want);
  }

  // Prefetches the whole 3 MiB base with `o` (64 KiB slots, 4 KiB blocks); returns the lengths
  // of the prefetcher's writes to the image's data area, with their counts.
  std::map<uint64_t, int> PrefetchDataWrites(const ImageOptions& o) {
    std::map<uint64_t, int> writes;
    Image* image = nullptr;
    world.image_dev.set_delay([&](Op op, uint64_t off, uint64_t len) {
      if (op == Op::kWrite && image != nullptr && off >= image->header().data_offset())
        ++writes[len];
      return Duration::zero();
    });
    auto img = OpenOrDie(nullptr, o);
    image = img.get();
    RunUntilPrefetchEnds(*img);
    EXPECT_TRUE(img->stats().prefetch_finished) << img->stats().prefetch_error;
    EXPECT_EQ(img->stats().prefetch_bytes_written, 3 * kMiB);
    ExpectContents(*img, {});
    EXPECT_TRUE(world.Run(img->Close()).ok());
    world.image_dev.set_delay(nullptr);
    return writes;
  }

  ImageWorld world;
  std::vector<std::byte> base;
};

TEST_F(PrefetcherTest, StartsAfterTheDelayCopiesEverythingAndMarksTheImageSelfContained) {
  Create(PrefetchOptions(), nullptr);
  auto img = OpenOrDie();
  world.loop.RunFor(milliseconds(1999));
  EXPECT_FALSE(img->stats().prefetch_started);
  EXPECT_EQ(img->stats().base_reads, 0u);
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished) << st.prefetch_error;
  // At once (in-memory devices take next to no time).
  EXPECT_NEAR(st.prefetch_finished_at_ns, Duration(seconds(2)).count(), 1e6);
  EXPECT_EQ(st.prefetch_bytes_read, base.size());
  EXPECT_EQ(st.prefetch_bytes_written, base.size());
  // The default (window) writes in pieces of its 16 KiB reads.
  EXPECT_EQ(st.prefetch_copies, base.size() / (16 * kKiB));
  EXPECT_TRUE(img->header().self_contained);
  const uint64_t base_reads = st.base_reads;
  ExpectContents(*img, {});
  EXPECT_EQ(img->stats().base_reads, base_reads) << "reads after prefetch must not touch the base";
  EXPECT_TRUE(world.Run(img->Close()).ok());

  // On disk too: the image opens without its base, reads the same, and checks clean.
  world.header.self_contained = true;  // what the world passes: no base device
  auto again = OpenOrDie();
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->header().self_contained);
  ExpectContents(*again, {});
  EXPECT_TRUE(again->Check().exit_code() == 0);
  EXPECT_TRUE(world.Run(again->Close()).ok());
}

TEST_F(PrefetcherTest, NonPositiveDelayNeverStarts) {
  auto o = PrefetchOptions();
  o.prefetch_start_delay = 0;
  Create(o, nullptr);
  auto img = OpenOrDie();
  world.loop.RunFor(seconds(100));
  EXPECT_FALSE(img->stats().prefetch_started);
  EXPECT_EQ(img->stats().base_reads, 0u);
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

// Records, per device, how many operations of each kind are in flight at most.
struct InFlightProbe {
  int reads = 0, writes = 0, max_reads = 0, max_writes = 0;
  uint64_t reads_done = 0, writes_done = 0;
  uint64_t max_ahead = 0;  // base reads completed minus image writes completed
};

TEST_F(PrefetcherTest, OneReadAndOneWriteInFlightThroughARingOfSlots) {
  Create(PrefetchOptions(), [](format::Header& h) { h.num_prefetch_slots = 3; });
  auto img = OpenOrDie(nullptr, Fvd());
  // Base reads take 1 ms, image writes 5 ms: the reader runs ahead until the ring is full.
  InFlightProbe probe;
  world.base_dev.set_delay([&](Op op, uint64_t, uint64_t) {
    if (op != Op::kRead) return Duration::zero();
    probe.max_reads = std::max(probe.max_reads, ++probe.reads);
    // Counted done just before the completion is delivered (same-time events run in a seeded
    // order in this world).
    world.loop.ScheduleAfter(milliseconds(1) - Duration(1), [&] {
      --probe.reads;
      ++probe.reads_done;
      probe.max_ahead = std::max(probe.max_ahead, probe.reads_done - probe.writes_done);
    });
    return Duration(milliseconds(1));
  });
  world.image_dev.set_delay([&](Op op, uint64_t off, uint64_t) {
    if (op != Op::kWrite || off < img->header().data_offset()) return Duration::zero();
    probe.max_writes = std::max(probe.max_writes, ++probe.writes);
    world.loop.ScheduleAfter(milliseconds(5) - Duration(1), [&] {
      --probe.writes;
      ++probe.writes_done;
    });
    return Duration(milliseconds(5));
  });
  RunUntilPrefetchEnds(*img);
  ASSERT_TRUE(img->stats().prefetch_finished) << img->stats().prefetch_error;
  EXPECT_EQ(probe.max_reads, 1);
  EXPECT_EQ(probe.max_writes, 1);
  // Three slots: at most three read slots wait for (or are in) the write.
  EXPECT_EQ(probe.max_ahead, 3u);
  // 48 writes of 5 ms, back to back after the first read: the writer never starves.
  const Duration took(img->stats().prefetch_finished_at_ns - Duration(seconds(2)).count());
  EXPECT_LT(took, milliseconds(48 * 5 + 10));
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, SkipsBlocksAlreadyInTheImage) {
  Create(PrefetchOptions(), nullptr);
  auto img = OpenOrDie();
  std::vector<std::byte> mine(256 * kKiB, std::byte{0x5a});
  ASSERT_TRUE(world.Run(img->Write(1 * kMiB, mine)).ok());
  RunUntilPrefetchEnds(*img);
  ASSERT_TRUE(img->stats().prefetch_finished);
  EXPECT_EQ(img->stats().prefetch_bytes_read, base.size() - mine.size());
  ExpectContents(*img, {{1 * kMiB, mine}});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, SkipsLockedBlocksAndCopiesThemInALaterPass) {
  Create(PrefetchOptions(), nullptr);
  auto img = OpenOrDie();
  // A guest write into the base range whose data write takes 3 s holds its write lock across
  // the prefetcher's first pass.
  const uint64_t at = 2 * kMiB + 512;  // a partial block: its base bytes are merged in
  std::vector<std::byte> mine(1024, std::byte{0x77});
  bool slow = true;
  world.image_dev.set_delay([&](Op op, uint64_t off, uint64_t) {
    const bool guest = op == Op::kWrite && off >= img->header().data_offset() + 2 * kMiB &&
                       off < img->header().data_offset() + 2 * kMiB + 4096;
    return guest && std::exchange(slow, false) ? Duration(seconds(3)) : Duration::zero();
  });
  Status written;
  bool done = false;
  world.loop.RunFor(milliseconds(1500));
  Detach(img->Write(at, mine), [&](Status s) {
    written = s;
    done = true;
  });
  RunUntilPrefetchEnds(*img);
  ASSERT_TRUE(done);
  ASSERT_TRUE(written.ok()) << written.ToString();
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished) << st.prefetch_error;
  EXPECT_GE(st.prefetch_skipped_locked, 1u);
  EXPECT_GE(st.prefetch_passes, 1u);
  ExpectContents(*img, {{at, mine}});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, BaseDataNeverOverwritesAGuestWriteThatLandedDuringTheRead) {
  Create(PrefetchOptions(), nullptr);
  world.base_dev.set_delay([](Op op, uint64_t, uint64_t) {
    return op == Op::kRead ? Duration(milliseconds(100)) : Duration::zero();
  });
  auto img = OpenOrDie();
  world.loop.RunFor(milliseconds(2050));  // the first slot's base read, [0, 64 KiB), is in flight
  ASSERT_TRUE(img->stats().prefetch_started);
  ASSERT_EQ(img->stats().prefetch_bytes_read, 0u);
  std::vector<std::byte> mine(4 * kKiB, std::byte{0x6d});
  ASSERT_TRUE(world.Run(img->Write(8 * kKiB, mine)).ok());
  ASSERT_EQ(img->stats().prefetch_bytes_read, 0u) << "the write must land before the read";
  RunUntilPrefetchEnds(*img);
  ASSERT_TRUE(img->stats().prefetch_finished);
  EXPECT_EQ(img->stats().prefetch_bytes_written, base.size() - mine.size());
  ExpectContents(*img, {{8 * kKiB, mine}});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

// A base that delivers 64 KiB per 100 ms (640 KiB/s), under the 1024 KiB/s minimum.
void SlowBase(ImageWorld& world) {
  world.base_dev.set_delay([](Op op, uint64_t, uint64_t len) {
    return op == Op::kRead ? Duration(milliseconds(100 * len / (64 * kKiB))) : Duration::zero();
  });
}

void Throttled(format::Header& h) {
  h.prefetch_min_read_throughput = 1024;
  h.prefetch_min_write_throughput = 0;
  h.prefetch_read_throughput_measure_time = 100;
  h.prefetch_throttle_time = 1000;
}

TEST_F(PrefetcherTest, CoinHeadsPausesUpToTheThrottleTime) {
  Create(PrefetchOptions(), Throttled);
  SlowBase(world);
  // Heads (0.1 < 0.5), then a pause of 1 + 0.5 * 1000 ms; then tails for ever.
  ScriptedRandom coin({0.1, 0.5});
  auto img = OpenOrDie(&coin, Fvd());
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished) << st.prefetch_error;
  EXPECT_EQ(st.prefetch_pauses, 1u);
  EXPECT_GE(st.prefetch_resets, 1u);
  // 48 reads of 100 ms, plus the 501 ms pause (writes take no time here).
  EXPECT_EQ(st.prefetch_finished_at_ns, Duration(seconds(2) + milliseconds(4800 + 501)).count());
  ExpectContents(*img, {});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, CoinTailsResetsTheAverageAndGoesOn) {
  Create(PrefetchOptions(), Throttled);
  SlowBase(world);
  ScriptedRandom coin({});  // always 0.999: tails
  auto img = OpenOrDie(&coin, Fvd());
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished);
  EXPECT_EQ(st.prefetch_pauses, 0u);
  // Each tails forgets the average, and the next window (one 100 ms read) finds it low
  // again: a flip before every read but the first.
  EXPECT_EQ(st.prefetch_resets, 47u);
  EXPECT_EQ(coin.draws(), 47);
  EXPECT_EQ(st.prefetch_finished_at_ns, Duration(seconds(2) + milliseconds(4800)).count());
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, FastEnoughNeverFlipsTheCoin) {
  Create(PrefetchOptions(), [](format::Header& h) {
    Throttled(h);
    h.prefetch_min_read_throughput = 512;  // the base gives 640 KiB/s
  });
  SlowBase(world);
  ScriptedRandom coin({});
  auto img = OpenOrDie(&coin);
  RunUntilPrefetchEnds(*img);
  EXPECT_TRUE(img->stats().prefetch_finished);
  EXPECT_EQ(coin.draws(), 0);
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, MaxThroughputCapsPaceReadsAndWrites) {
  Create(PrefetchOptions(), [](format::Header& h) {
    h.prefetch_max_read_throughput = 1024;  // KiB/s: 3 MiB take 3 s
    h.prefetch_max_write_throughput = 512;  // and 6 s to write
  });
  auto img = OpenOrDie(nullptr, Fvd());
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished);
  EXPECT_GT(st.prefetch_cap_waits, 0u);
  // The write cap binds: 48 writes of 64 KiB, 125 ms apart; the first starts at once.
  EXPECT_EQ(st.prefetch_finished_at_ns, Duration(seconds(2) + milliseconds(47 * 125)).count());
  ExpectContents(*img, {});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, BaseReadErrorStopsPrefetchAndTheGuestCarriesOn) {
  Create(PrefetchOptions(), nullptr);
  auto img = OpenOrDie();
  world.base_dev.set_fail(
      [](Op op, uint64_t off, uint64_t) { return op == Op::kRead && off >= 2 * kMiB; });
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_failed);
  EXPECT_FALSE(st.prefetch_finished);
  EXPECT_NE(st.prefetch_error.find("prefetch base read"), std::string::npos) << st.prefetch_error;
  EXPECT_FALSE(img->metadata_error());
  EXPECT_FALSE(img->header().all_data_in_image());
  // The guest reads what was copied and writes on.
  EXPECT_TRUE(ReadAll(*img, 0, 2 * kMiB) == std::vector(base.begin(), base.begin() + 2 * kMiB));
  std::vector<std::byte> mine(8 * kKiB, std::byte{0x33});
  EXPECT_TRUE(world.Run(img->Write(3 * kMiB + 4096, mine)).ok());
  EXPECT_TRUE(world.Run(img->Close()).ok());

  // A later open prefetches again, and finishes once the base reads.
  world.base_dev.set_fail(nullptr);
  auto again = OpenOrDie();
  RunUntilPrefetchEnds(*again);
  ASSERT_TRUE(again->stats().prefetch_finished) << again->stats().prefetch_error;
  EXPECT_EQ(again->stats().prefetch_bytes_read, base.size() - 2 * kMiB);
  ExpectContents(*again, {{3 * kMiB + 4096, mine}});
  EXPECT_TRUE(world.Run(again->Close()).ok());
}

TEST_F(PrefetcherTest, QueueDelayPacingLeavesGapsWhileBaseReadsQueue) {
  Create(PrefetchOptions(), nullptr);  // 3 MiB of base in 48 reads of 64 KiB, from 2 s
  int reads = 0;
  world.base_dev.set_delay([&](Op op, uint64_t, uint64_t) {
    if (op != Op::kRead) return Duration::zero();
    ++reads;
    // Reads 9 to 12 queue 4 ms behind someone else's traffic.
    return Duration(milliseconds(reads > 8 && reads <= 12 ? 5 : 1));
  });
  ImageOptions o = Fvd();
  o.prefetch_queue_target = milliseconds(2);
  auto img = OpenOrDie(nullptr, o);
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished) << st.prefetch_error;
  // Gaps of 5, 10, 20 and 40 ms after the slow reads, then 20, 10, 5 and 2.5 ms after the next
  // four (below the 2 ms target the gap is none).
  EXPECT_EQ(st.prefetch_backoffs, 8u);
  const int64_t reading = Duration(milliseconds(44 + 4 * 5)).count();
  const int64_t gaps = Duration(microseconds(112'500)).count();
  EXPECT_GE(st.prefetch_finished_at_ns - st.prefetch_started_at_ns, reading + gaps);
  EXPECT_LT(st.prefetch_finished_at_ns - st.prefetch_started_at_ns,
            reading + gaps + Duration(milliseconds(5)).count());
  ExpectContents(*img, {});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

ImageOptions WindowOptions() {
  ImageOptions o;
  o.prefetch_control = PrefetchControl::kWindow;
  o.prefetch_window.read_bytes = 16 * kKiB;
  o.prefetch_window.max_reads = 4;
  o.prefetch_window.gain = 1;
  o.prefetch_window.target = milliseconds(2);
  return o;
}

TEST_F(PrefetcherTest, WindowReadsSlotsInPiecesWithUpToTheWindowInFlight) {
  Create(PrefetchOptions(), nullptr);  // 64 KiB slots: 4 pieces of 16 KiB each
  std::vector<TimePoint> ends;         // when each base read submitted so far completes
  size_t most_in_flight = 0;
  uint64_t bad_lengths = 0;
  world.base_dev.set_delay([&](Op op, uint64_t, uint64_t len) {
    if (op != Op::kRead) return Duration::zero();
    if (len != 16 * kKiB) ++bad_lengths;
    const TimePoint now = world.loop.Now();
    std::erase_if(ends, [&](TimePoint t) { return t <= now; });
    ends.push_back(now + milliseconds(1));
    most_in_flight = std::max(most_in_flight, ends.size());
    return Duration(milliseconds(1));  // every read alone: no queueing
  });
  auto img = OpenOrDie(nullptr, WindowOptions());
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished) << st.prefetch_error;
  EXPECT_EQ(bad_lengths, 0u);
  EXPECT_EQ(most_in_flight, 4u);  // max_reads, reached since no read queues
  EXPECT_EQ(st.prefetch_backoffs, 0u);
  ExpectContents(*img, {});
  // 3 MiB in 192 reads: 1 at a time, then 2, 3, and 4 (gain 1: a read more per round trip).
  EXPECT_LT(st.prefetch_finished_at_ns - st.prefetch_started_at_ns,
            Duration(milliseconds(192 / 4 + 10)).count());
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

// A guest request on the image's disk waits behind one small prefetch write at most: the
// window writes each slot in pieces of its read size (16 KiB)...
TEST_F(PrefetcherTest, WindowWritesSlotsInPiecesOfItsReadSize) {
  Create(PrefetchOptions(), nullptr);
  EXPECT_EQ(PrefetchDataWrites(WindowOptions()), (std::map<uint64_t, int>{{16 * kKiB, 192}}));
}

// ...and FVD's coin writes whole slots, as before.
TEST_F(PrefetcherTest, FvdCoinWritesWholeSlots) {
  Create(PrefetchOptions(), nullptr);
  EXPECT_EQ(PrefetchDataWrites(Fvd()), (std::map<uint64_t, int>{{64 * kKiB, 48}}));
}

TEST_F(PrefetcherTest, WindowShrinksToGapsWhileBaseReadsQueueAndCopiesEverything) {
  Create(PrefetchOptions(), nullptr);
  int reads = 0;
  world.base_dev.set_delay([&](Op op, uint64_t, uint64_t) {
    if (op != Op::kRead) return Duration::zero();
    ++reads;
    // Reads 20 to 60 queue 9 ms behind someone else's traffic.
    return Duration(milliseconds(reads >= 20 && reads <= 60 ? 10 : 1));
  });
  auto img = OpenOrDie(nullptr, WindowOptions());
  RunUntilPrefetchEnds(*img);
  const ImageStats& st = img->stats();
  ASSERT_TRUE(st.prefetch_finished) << st.prefetch_error;
  EXPECT_GT(st.prefetch_backoffs, 0u);  // the window fell below one read: gaps
  ExpectContents(*img, {});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, CloseWaitsForPiecesInFlightAndLeavesNothingScheduled) {
  Create(PrefetchOptions(), nullptr);
  SlowBase(world);
  auto img = OpenOrDie(nullptr, WindowOptions());
  world.loop.RunUntil([&] { return img->stats().prefetch_bytes_read >= 256 * kKiB; });
  EXPECT_TRUE(world.Run(img->Close()).ok());
  EXPECT_FALSE(img->stats().prefetch_finished);
  EXPECT_EQ(world.loop.pending(), 0u);
  auto again = OpenOrDie(nullptr, WindowOptions());
  RunUntilPrefetchEnds(*again);
  ASSERT_TRUE(again->stats().prefetch_finished) << again->stats().prefetch_error;
  ExpectContents(*again, {});
  EXPECT_TRUE(world.Run(again->Close()).ok());
}

TEST_F(PrefetcherTest, CloseStopsAPausedPrefetcher) {
  Create(PrefetchOptions(), Throttled);
  SlowBase(world);
  ScriptedRandom coin({0.1, 0.999});  // heads, pause ~1 s
  auto img = OpenOrDie(&coin, Fvd());
  world.loop.RunUntil([&] { return img->stats().prefetch_pauses > 0; });
  const TimePoint t = world.loop.Now();
  EXPECT_TRUE(world.Run(img->Close()).ok());
  EXPECT_LT(world.loop.Now() - t, milliseconds(200)) << "Close must not wait out the pause";
  EXPECT_FALSE(img->stats().prefetch_finished);
  EXPECT_EQ(world.loop.pending(), 0u);
}

TEST_F(PrefetcherTest, CompactAndJournalFreeImagesPrefetchToo) {
  for (const bool compact : {true, false}) {
    SCOPED_TRACE(compact ? "compact" : "no journal");
    world.image_mem.ResizeNow(0);
    auto o = PrefetchOptions(compact);
    if (!compact) o.journal_size = 0;
    Create(o, nullptr);
    auto img = OpenOrDie();
    std::vector<std::byte> mine(4 * kKiB, std::byte{0x11});
    ASSERT_TRUE(world.Run(img->Write(100 * kKiB, mine)).ok());
    RunUntilPrefetchEnds(*img);
    ASSERT_TRUE(img->stats().prefetch_finished) << img->stats().prefetch_error;
    ExpectContents(*img, {{100 * kKiB, mine}});
    EXPECT_TRUE(img->Check().exit_code() == 0);
    EXPECT_TRUE(world.Run(img->Close()).ok());
  }
}

TEST_F(PrefetcherTest, CrashMidPrefetchOnlyCostsRecopying) {
  Create(PrefetchOptions(), nullptr);
  world.base_dev.set_delay([](Op op, uint64_t, uint64_t) {
    return op == Op::kRead ? Duration(milliseconds(10)) : Duration::zero();
  });
  auto img = OpenOrDie();
  std::vector<std::byte> mine(8 * kKiB, std::byte{0x42});
  ASSERT_TRUE(world.Run(img->Write(1 * kMiB, mine)).ok());
  ASSERT_TRUE(world.Run(img->Flush()).ok());
  world.loop.RunUntil([&] { return img->stats().prefetch_bytes_written >= 1 * kMiB; });
  world.Run(img->WaitIdle());  // the power fails: no Close
  img.reset();
  auto again = OpenOrDie();
  EXPECT_TRUE(again->stats().recovered);
  ExpectContents(*again, {{1 * kMiB, mine}});
  RunUntilPrefetchEnds(*again);
  ASSERT_TRUE(again->stats().prefetch_finished);
  ExpectContents(*again, {{1 * kMiB, mine}});
  EXPECT_TRUE(world.Run(again->Close()).ok());
}

}  // namespace
}  // namespace fvd

namespace fvd {
namespace {

// ---- Profile-directed prefetch ----

TEST(ProfileRecorderTest, FirstReadsInOrderAsWholeBlocksMerged) {
  ProfileRecorder r(/*base_bytes=*/1 << 20, /*block_size=*/4096, /*max_entries=*/3);
  r.OnBaseRead(8192 + 512, 1024);        // block 2
  r.OnBaseRead(12288, 8192);             // blocks 3, 4: continue the extent
  r.OnBaseRead(0, 512);                  // block 0: a new extent
  r.OnBaseRead(8192, 4096);              // block 2 again: already recorded
  r.OnBaseRead(1 << 20, 4096);           // past the base: never recorded
  r.OnBaseRead((1 << 20) - 4096, 8192);  // the last block (the rest is past the base)
  EXPECT_EQ(r.entries(), (std::vector<Extent>{{8192, 12288}, {0, 4096}, {(1 << 20) - 4096, 4096}}));
  EXPECT_TRUE(r.full());
  r.OnBaseRead(40960, 4096);  // a fourth extent does not fit
  EXPECT_EQ(r.entries().size(), 3u);
}

TEST_F(PrefetcherTest, ImageRecordsTheOrderGuestReadsPullBaseBlocks) {
  Create(PrefetchOptions(), [](format::Header& h) { h.prefetch_start_delay = -1; });
  ImageOptions o;
  o.record_prefetch_profile = true;
  auto img = OpenOrDie(nullptr, o);
  ReadAll(*img, 2 * kMiB, 8 * kKiB);
  ReadAll(*img, 0, 4 * kKiB);
  ReadAll(*img, 0 + 4 * kKiB, 4 * kKiB);         // continues the last extent
  ReadAll(*img, 2 * kMiB + 8 * kKiB, 4 * kKiB);  // adjacent to the first, but not the last
  ReadAll(*img, 2 * kMiB, 4 * kKiB);             // seen before
  EXPECT_EQ(img->recorded_prefetch_profile(),
            (std::vector<ByteRange>{
                {2 * kMiB, 8 * kKiB}, {0, 8 * kKiB}, {2 * kMiB + 8 * kKiB, 4 * kKiB}}));
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, ProfileIsPrefetchedFirstInItsOrder) {
  Create(PrefetchOptions(), [](format::Header& h) {
    h.prefetch_start_delay = 3;
    h.profile_directed_prefetch_start_delay = 0;
  });
  std::vector<uint64_t> reads;  // base read offsets, in order
  world.base_dev.set_delay([&](Op op, uint64_t off, uint64_t) {
    if (op == Op::kRead) reads.push_back(off);
    return Duration(milliseconds(1));
  });
  ImageOptions o = Fvd();
  o.prefetch_profile = {{2 * kMiB + 128 * kKiB, 100 * kKiB}, {64 * kKiB, 4 * kKiB}};
  auto img = OpenOrDie(nullptr, o);
  world.loop.RunFor(milliseconds(500));
  // The profile's blocks, in its order (slots of at most 64 KiB), and nothing else yet.
  EXPECT_EQ(reads,
            (std::vector<uint64_t>{2 * kMiB + 128 * kKiB, 2 * kMiB + 192 * kKiB, 64 * kKiB}));
  EXPECT_EQ(img->stats().prefetch_profile_bytes, 104 * kKiB);
  const auto map = img->Map(2 * kMiB + 128 * kKiB, 100 * kKiB);
  ASSERT_EQ(map.size(), 1u);
  EXPECT_EQ(map[0].where, MapExtent::Where::kImage);
  EXPECT_FALSE(img->stats().prefetch_finished);
  // Whole-image prefetch still starts at its own delay, and skips what the profile copied.
  RunUntilPrefetchEnds(*img);
  ASSERT_TRUE(img->stats().prefetch_finished);
  EXPECT_GE(img->stats().prefetch_finished_at_ns, Duration(seconds(3)).count());
  EXPECT_EQ(img->stats().prefetch_bytes_read, base.size());
  ExpectContents(*img, {});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(PrefetcherTest, ProfileAloneStopsAfterItsPass) {
  Create(PrefetchOptions(), [](format::Header& h) {
    h.prefetch_start_delay = -1;
    h.profile_directed_prefetch_start_delay = 1;
  });
  ImageOptions o;
  o.prefetch_profile = {{0, 64 * kKiB}};
  auto img = OpenOrDie(nullptr, o);
  world.loop.RunUntilIdle();
  EXPECT_TRUE(img->stats().prefetch_started);
  EXPECT_EQ(img->stats().prefetch_bytes_read, 64 * kKiB);
  EXPECT_FALSE(img->stats().prefetch_finished);
  EXPECT_FALSE(img->header().all_data_in_image());
  ExpectContents(*img, {});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

}  // namespace
}  // namespace fvd

namespace fvd {
namespace {

// Profiles stored in the image (profile_store.h): recorded at close, followed after reopen.
class StoredProfileTest : public PrefetcherTest {
 protected:
  void CreateRecording() {
    auto o = PrefetchOptions();
    o.generate_prefetch_profile = true;
    o.prefetch_profile_capacity = 8;
    o.profile_directed_prefetch_start_delay = 0;
    Create(o, [](format::Header& h) { h.prefetch_start_delay = -1; });
  }
  // Boots once: two reads that go to the base, then a clean close.
  void BootOnce() {
    auto img = OpenOrDie();
    EXPECT_EQ(img->stats().stored_profile_entries, 0u);
    ReadAll(*img, 2 * kMiB, 8 * kKiB);
    ReadAll(*img, 0, 4 * kKiB);
    EXPECT_TRUE(world.Run(img->Close()).ok());
  }
};

TEST_F(StoredProfileTest, RecordedAtCloseAndFollowedAfterReopen) {
  CreateRecording();
  BootOnce();
  std::vector<uint64_t> reads;  // base read offsets, in order
  world.base_dev.set_delay([&](Op op, uint64_t off, uint64_t) {
    if (op == Op::kRead) reads.push_back(off);
    return Duration(milliseconds(1));
  });
  auto img = OpenOrDie();
  EXPECT_EQ(img->stats().stored_profile_entries, 2u);
  world.loop.RunUntilIdle();
  // The first boot's order, in whole 4 KiB profile units.
  EXPECT_EQ(reads, (std::vector<uint64_t>{2 * kMiB, 0}));
  EXPECT_EQ(img->stats().prefetch_profile_bytes, 12 * kKiB);
  ExpectContents(*img, {});
  // This session read nothing from the base itself; the stored profile stays as it was.
  EXPECT_TRUE(world.Run(img->Close()).ok());
  img = OpenOrDie();
  EXPECT_EQ(img->stats().stored_profile_entries, 2u);
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(StoredProfileTest, ADamagedRegionIsIgnoredAndTheImageStillOpens) {
  CreateRecording();
  BootOnce();
  const uint64_t entry = world.header.prefetch_profile_offset + 512;
  world.image_mem.WriteNow(entry, std::vector<std::byte>(4, std::byte{0x5a}));
  auto img = OpenOrDie();
  EXPECT_EQ(img->stats().stored_profile_entries, 0u);
  EXPECT_NE(img->stats().prefetch_profile_error.find("checksum mismatch"), std::string::npos)
      << img->stats().prefetch_profile_error;
  world.loop.RunUntilIdle();
  EXPECT_EQ(img->stats().prefetch_bytes_read, 0u);  // nothing to follow
  ExpectContents(*img, {});
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

}  // namespace
}  // namespace fvd
