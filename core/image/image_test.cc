// The image engine's paths, one by one, on in-memory devices.
#include "core/image/image.h"

#include <gtest/gtest.h>

#include "core/format/chunk_table.h"
#include "core/image/journal.h"
#include "core/testing/image_world.h"
#include "core/util/endian.h"

namespace fvd {
namespace {

using testing::ImageWorld;
using testing::Op;
using testing::Pattern;

constexpr uint64_t kKiB = 1024, kMiB = 1 << 20;

format::CreateOptions BaseOptions(bool compact = false) {
  return testing::SmallOverlayOptions(compact);
}

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override { base = world.MakeBase(3 * kMiB + 512, 77); }

  std::unique_ptr<Image> OpenOrDie(ImageOptions o = {}) {
    auto img = world.Open(o);
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return img.ok() ? std::move(*img) : nullptr;
  }
  std::vector<std::byte> ReadAll(Image& img, uint64_t off, uint64_t len) {
    std::vector<std::byte> out(len);
    Status s = world.Run(img.Read(off, out));
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  // What the disk should read: the base, zeros past it.
  std::vector<std::byte> Expected(uint64_t off, uint64_t len) {
    std::vector<std::byte> out(len);
    for (uint64_t i = 0; i < len; ++i)
      out[i] = off + i < base.size() ? base[off + i] : std::byte{0};
    return out;
  }
  // A new overlay in buffered mode with a 1 KiB journal buffer (60 one-block records), on a
  // device whose flushes take 1 ms.
  std::unique_ptr<Image> OpenWithSmallBufferAndSlowFlushes() {
    EXPECT_TRUE(world.Create(BaseOptions()).ok());
    world.image_dev.set_delay([](Op op, uint64_t, uint64_t) {
      return op == Op::kFlush ? Duration(std::chrono::milliseconds(1)) : Duration(0);
    });
    return OpenOrDie({.journal_mode = JournalMode::kBuffered, .journal_buffer_bytes = 1024});
  }
  // Flushes, crashes (the image dropped without a close) and reopens: recovery must find
  // `truth`. Closes the reopened image.
  void FlushCrashAndExpect(std::unique_ptr<Image>& img, const std::vector<std::byte>& truth) {
    ASSERT_TRUE(world.Run(img->Flush()).ok());
    img.reset();
    img = OpenOrDie();
    EXPECT_TRUE(img->stats().recovered);
    EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
    ASSERT_TRUE(world.Run(img->Close()).ok());
  }
  void Put(uint64_t off, const std::vector<std::byte>& data) {
    std::copy(data.begin(), data.end(), base.begin() + static_cast<ptrdiff_t>(off));
  }

  ImageWorld world;
  std::vector<std::byte> base;
};

TEST_F(ImageTest, FreshOverlayReadsTheBaseAndZerosPastIt) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  auto img = OpenOrDie();
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), Expected(0, 4 * kMiB));
  EXPECT_EQ(img->stats().base_reads, 1u);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

// The four partial-block cases of copy-on-write with 4 KiB blocks.
struct PartialCase {
  const char* name;
  uint64_t offset;
  uint64_t length;
};
class PartialBlockTest : public ImageTest,
                         public ::testing::WithParamInterface<std::tuple<PartialCase, bool>> {};

TEST_P(PartialBlockTest, CopiesTheRestOfEachPartialBlockFromTheBase) {
  const auto& [c, compact] = GetParam();
  ASSERT_TRUE(world.Create(BaseOptions(compact)).ok());
  auto img = OpenOrDie();
  const auto data = Pattern(c.length, 5);
  ASSERT_TRUE(world.Run(img->Write(c.offset, data)).ok());
  auto truth = Expected(0, 4 * kMiB);
  std::copy(data.begin(), data.end(), truth.begin() + static_cast<ptrdiff_t>(c.offset));
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  EXPECT_EQ(img->stats().allocating_writes, 1u);
  ASSERT_TRUE(world.Run(img->Close()).ok());
  img = OpenOrDie();  // and from the metadata written at close
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PartialBlockTest,
    ::testing::Combine(
        ::testing::Values(PartialCase{"head_partial", 4096 + 1024, 3072},  // ends on a boundary
                          PartialCase{"tail_partial", 8192, 1536},         // starts on a boundary
                          PartialCase{"inside_one_block", 12288 + 512, 1024},
                          PartialCase{"spanning_blocks", 16384 + 2560, 9216}),
        ::testing::Bool()),
    [](const auto& i) {
      return std::string(std::get<0>(i.param).name) + (std::get<1>(i.param) ? "_compact" : "");
    });

TEST_F(ImageTest, SecondWriteToABlockIsInPlace) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  auto img = OpenOrDie();
  ASSERT_TRUE(world.Run(img->Write(0, Pattern(4096, 1))).ok());
  ASSERT_TRUE(world.Run(img->Write(512, Pattern(512, 2))).ok());
  EXPECT_EQ(img->stats().allocating_writes, 1u);
  EXPECT_EQ(img->stats().in_place_writes, 1u);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, OverlappingWritesToOneBlockAreHeldByTheLock) {
  // Two writes to different sectors of the same base block, in flight together: each
  // copy-on-write must not clobber the other's sector with base data.
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  auto img = OpenOrDie();
  const auto a = Pattern(512, 10), b = Pattern(512, 11);
  int done = 0;
  Status sa, sb;
  Detach(img->Write(8192, a), [&](Status s) {
    sa = s;
    ++done;
  });
  Detach(img->Write(8192 + 3072, b), [&](Status s) {
    sb = s;
    ++done;
  });
  world.loop.RunUntil([&] { return done == 2; });
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_GE(img->stats().lock_waits, 1u);
  auto truth = Expected(8192, 4096);
  std::copy(a.begin(), a.end(), truth.begin());
  std::copy(b.begin(), b.end(), truth.begin() + 3072);
  EXPECT_EQ(ReadAll(*img, 8192, 4096), truth);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, JournalRecyclesWithWritersWaiting) {
  auto o = BaseOptions();
  o.journal_size = 4096;  // 8 sectors
  ASSERT_TRUE(world.Create(o).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  // Every flush takes 1 ms of virtual time: writers queued behind a recycle wait at least that.
  world.image_dev.set_delay([](Op op, uint64_t, uint64_t) {
    return op == Op::kFlush ? Duration(std::chrono::milliseconds(1)) : Duration(0);
  });
  auto truth = Expected(0, 4 * kMiB);
  int done = 0;
  std::vector<std::vector<std::byte>> data;
  for (int i = 0; i < 40; ++i) data.push_back(Pattern(512, 100 + i));
  for (int i = 0; i < 40; ++i) {  // 40 allocating writes in flight at once, one sector each
    const uint64_t off = uint64_t(i) * 8192;
    std::copy(data[i].begin(), data[i].end(), truth.begin() + static_cast<ptrdiff_t>(off));
    Detach(img->Write(off, data[i]), [&](Status s) {
      EXPECT_TRUE(s.ok()) << s.ToString();
      ++done;
    });
  }
  world.loop.RunUntil([&] { return done == 40; });
  EXPECT_GE(img->stats().journal_recycles, 4u);
  // A recycle flushes twice (data, then the regions) and each of the 32 writers past the first
  // journal's 8 sectors waited for at least one recycle.
  EXPECT_GE(img->stats().journal_recycle_wait_ns, 32u * 2 * 1'000'000);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  // Crash (no close) and recover: every completed write is durable in unbuffered mode.
  const uint64_t epoch_before = img->header().journal_epoch;
  img.reset();
  img = OpenOrDie();
  EXPECT_TRUE(img->stats().recovered);
  EXPECT_GT(img->header().journal_epoch, epoch_before);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, BufferedJournalIsDurableAfterFlush) {
  ASSERT_TRUE(world.Create(BaseOptions(true)).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kBuffered});
  const auto data = Pattern(8192, 3);
  ASSERT_TRUE(world.Run(img->Write(65536 + 1024, data)).ok());
  const uint64_t sectors_before = img->stats().journal_sector_writes;
  ASSERT_TRUE(world.Run(img->Flush()).ok());
  EXPECT_GT(img->stats().journal_sector_writes, sectors_before);
  img.reset();  // crash after the flush
  img = OpenOrDie();
  EXPECT_TRUE(img->stats().recovered);
  EXPECT_GE(img->stats().replayed_sectors, 1u);
  auto truth = Expected(0, 4 * kMiB);
  std::copy(data.begin(), data.end(), truth.begin() + 65536 + 1024);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, BufferedJournalTimerWritesTheBuffer) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kBuffered,
                        .journal_flush_period = std::chrono::milliseconds(50)});
  ASSERT_TRUE(world.Run(img->Write(0, Pattern(4096, 1))).ok());
  EXPECT_EQ(img->stats().journal_sector_writes, 0u);
  world.loop.RunFor(std::chrono::milliseconds(60));
  EXPECT_EQ(img->stats().journal_sector_writes, 1u);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

// A v2 journal sector holds 30 bitmap records (16 B each in 492 B of payload), so a 1 KiB
// buffer takes 60 one-block writes. The 61st does not fit: the buffer is written out (data
// flush, then the journal sectors) in the background, and that write does not wait for it.
TEST_F(ImageTest, BufferedJournalFillsItsBufferThenWritesItOutInTheBackground) {
  auto img = OpenWithSmallBufferAndSlowFlushes();
  ASSERT_NE(img, nullptr);
  auto truth = Expected(0, 4 * kMiB);
  auto write_block = [&](int i) {
    const uint64_t off = uint64_t(i) * 2 * 4096;  // every other block: no two records merge
    const auto data = Pattern(4096, 200 + i);
    std::copy(data.begin(), data.end(), truth.begin() + static_cast<ptrdiff_t>(off));
    Status s = world.Run(img->Write(off, data));
    EXPECT_TRUE(s.ok()) << s.ToString();
  };
  const uint64_t flushes_before = img->stats().data_flushes;
  for (int i = 0; i < 60; ++i) write_block(i);
  EXPECT_EQ(img->stats().journal_sector_writes, 0u);
  EXPECT_EQ(img->stats().data_flushes, flushes_before);
  const auto durable = truth;
  write_block(60);  // does not fit
  EXPECT_EQ(img->stats().data_flushes, flushes_before + 1);
  EXPECT_EQ(img->stats().journal_sector_writes, 0u);  // still behind the data flush
  world.loop.RunFor(std::chrono::milliseconds(2));
  EXPECT_EQ(img->stats().journal_sector_writes, 2u);
  img.reset();  // crash with no guest flush: the first 60 writes are durable, the last is not
  img = OpenOrDie();
  EXPECT_TRUE(img->stats().recovered);
  EXPECT_EQ(img->stats().replayed_sectors, 2u);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), durable);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

// While a write-out waits for its data flush, later updates queue up behind it (up to 8
// buffers' worth) instead of waiting, and go out as soon as it is done.
TEST_F(ImageTest, BufferedJournalQueuesUpdatesBehindAWriteOutInFlight) {
  auto img = OpenWithSmallBufferAndSlowFlushes();
  ASSERT_NE(img, nullptr);
  auto truth = Expected(0, 4 * kMiB);
  const TimePoint start = world.loop.Now();
  for (int i = 0; i < 300; ++i) {  // 5 buffers of 60 one-block records
    const uint64_t off = uint64_t(i) * 2 * 4096;
    const auto data = Pattern(4096, 300 + i);
    std::copy(data.begin(), data.end(), truth.begin() + static_cast<ptrdiff_t>(off));
    ASSERT_TRUE(world.Run(img->Write(off, data)).ok());
  }
  // No write waited for the first write-out's 1 ms data flush.
  EXPECT_EQ(world.loop.Now(), start);
  EXPECT_EQ(img->stats().data_flushes, 1u);
  EXPECT_EQ(img->stats().journal_sector_writes, 0u);
  // The first write-out (60 records, 2 sectors), then at once the 240 queued behind it
  // (8 sectors).
  world.loop.RunFor(std::chrono::milliseconds(3));
  EXPECT_EQ(img->stats().data_flushes, 2u);
  EXPECT_EQ(img->stats().journal_sector_writes, 10u);
  FlushCrashAndExpect(img, truth);
}

TEST_F(ImageTest, ReplaySkipsTornAndStaleEpochSectors) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  const uint64_t epoch = img->header().journal_epoch;  // the open started a new epoch
  ASSERT_GE(epoch, 1u);
  const auto w1 = Pattern(4096, 1), w2 = Pattern(4096, 2);
  ASSERT_TRUE(world.Run(img->Write(0, w1)).ok());          // journal sector 0
  ASSERT_TRUE(world.Run(img->Write(2 * 65536, w2)).ok());  // journal sector 1
  img.reset();  // crash: both records are durable (unbuffered)
  const uint64_t journal = world.header.journal_offset;
  // Tear sector 1: its record (chunk 2) must not be applied.
  std::array<std::byte, 1> b;
  world.image_mem.ReadNow(journal + 512 + 100, b);
  b[0] ^= std::byte{0xFF};
  world.image_mem.WriteNow(journal + 512 + 100, b);
  // A well-formed sector of the previous epoch mapping chunk 5: it must be ignored.
  JournalUpdate stale;
  stale.first_sector = 5 * 65536 / 512;
  stale.num_sectors = 65536 / 512;
  stale.first_entry = 5;
  stale.entries = {7};
  const auto sectors = EncodeUpdates({stale}, format::JournalFormat::kV2, epoch - 1, 65536 / 512);
  ASSERT_EQ(sectors.size(), 1u);
  world.image_mem.WriteNow(journal + 5 * 512, sectors[0]);
  img = OpenOrDie();
  EXPECT_TRUE(img->stats().recovered);
  EXPECT_EQ(img->stats().replayed_sectors, 1u);
  EXPECT_EQ(img->stats().skipped_sectors, 2u);
  EXPECT_EQ(ReadAll(*img, 0, 4096), w1);                                   // applied
  EXPECT_EQ(ReadAll(*img, 2 * 65536, 4096), Expected(2 * 65536, 4096));    // torn: base again
  EXPECT_EQ(ReadAll(*img, 5 * 65536, 65536), Expected(5 * 65536, 65536));  // stale: ignored
  // Chunk 1 (the torn write's data) is referenced by nobody: above the highest referenced chunk,
  // check cannot tell it from unused space, but recovery hands it out again.
  EXPECT_FALSE(img->Check().corrupt());
  EXPECT_GE(img->stats().leaked_chunks, 1u);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, AJournalCorruptBeyondReplayOpensReadOnlyWithTheMetadataAsLastWritten) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  const auto w1 = Pattern(4096, 1), w2 = Pattern(4096, 2);
  ASSERT_TRUE(world.Run(img->Write(0, w1)).ok());
  ASSERT_TRUE(world.Run(img->Close()).ok());  // w1's chunk is in the table region now
  img = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  const uint64_t epoch = img->header().journal_epoch;
  ASSERT_TRUE(world.Run(img->Write(2 * 65536, w2)).ok());  // recorded only in the journal
  img.reset();                                             // crash
  // A well-formed sector of the current epoch whose table record lies past the table.
  JournalUpdate impossible;
  impossible.first_sector = 0;
  impossible.num_sectors = 65536 / 512;
  impossible.first_entry = 1u << 30;
  impossible.entries = {3};
  const auto sectors = EncodeUpdates({impossible}, format::JournalFormat::kV2, epoch, 65536 / 512);
  ASSERT_EQ(sectors.size(), 1u);
  world.image_mem.WriteNow(world.header.journal_offset + 3 * 512, sectors[0]);
  std::vector<std::byte> before(world.image_mem.size());
  world.image_mem.ReadNow(0, before);

  auto opened = world.Open();  // read-write was asked for
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  img = std::move(*opened);
  EXPECT_TRUE(img->stats().journal_unreplayable);
  EXPECT_NE(img->open_warning().find("corrupt beyond replay"), std::string::npos);
  EXPECT_NE(img->open_warning().find("past the table"), std::string::npos) << img->open_warning();
  EXPECT_EQ(ReadAll(*img, 0, 4096), w1);                                 // as last written
  EXPECT_EQ(ReadAll(*img, 2 * 65536, 4096), Expected(2 * 65536, 4096));  // journal only: not seen
  const Status refused = world.Run(img->Write(0, w2));
  EXPECT_EQ(refused.code(), StatusCode::kReadOnly);
  EXPECT_NE(refused.message().find("corrupt beyond replay"), std::string::npos);
  EXPECT_TRUE(world.Run(img->Close()).ok());
  std::vector<std::byte> after(world.image_mem.size());
  world.image_mem.ReadNow(0, after);
  EXPECT_TRUE(before == after) << "opening and closing wrote to the image";
  EXPECT_TRUE(img->Check().corrupt());  // check names the journal

  // The repair of `check -r all`: discard the journal, keep the metadata as last written.
  img = OpenOrDie({.discard_unreplayable_journal = true});
  EXPECT_TRUE(img->stats().journal_discarded);
  EXPECT_TRUE(img->open_warning().empty());
  EXPECT_FALSE(img->Check().corrupt());
  EXPECT_EQ(ReadAll(*img, 0, 4096), w1);
  ASSERT_TRUE(world.Run(img->Write(2 * 65536, w2)).ok());
  ASSERT_TRUE(world.Run(img->Close()).ok());
  img = OpenOrDie();  // clean now: the impossible record is of an old epoch
  EXPECT_FALSE(img->stats().recovered);
  EXPECT_EQ(ReadAll(*img, 2 * 65536, 4096), w2);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

// Found by open_image_fuzz: a table entry mapping a chunk far past the data file's end made the
// next allocation grow the file a unit at a time towards it (a hang, and terabytes on a file).
TEST_F(ImageTest, ATableEntryPastTheDataFileFailsAllocationInsteadOfGrowingTowardsIt) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  auto img = OpenOrDie();
  ASSERT_TRUE(world.Run(img->Write(0, Pattern(4096, 1))).ok());  // chunk 0
  ASSERT_TRUE(world.Run(img->Close()).ok());
  std::array<std::byte, 4> entry;
  StoreLE32(entry, 0, 1'000'000);  // table entry 1 maps chunk 1,000,000
  world.image_mem.WriteNow(world.header.table_offset + 4, entry);
  img = OpenOrDie();
  const uint64_t size = world.image_mem.size();
  // Chunks the data file already holds are handed out first; then a fresh one is needed.
  Status s;
  for (uint64_t chunk = 2; chunk < 64 && s.ok(); ++chunk) {
    s = world.Run(img->Write(chunk * 65536, Pattern(4096, chunk)));
  }
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("past the end of the data file"), std::string::npos) << s.message();
  EXPECT_EQ(world.image_mem.size(), size);
  EXPECT_TRUE(img->Check().corrupt());
}

TEST_F(ImageTest, LeakedChunkIsReusedAndZeroedBeforeGrowing) {
  auto o = BaseOptions(true);
  o.base_img.clear();
  ASSERT_TRUE(world.Create(o).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kBuffered});
  ASSERT_TRUE(world.Run(img->Write(0, Pattern(65536, 1))).ok());  // chunk 0
  ASSERT_TRUE(world.Run(img->Flush()).ok());
  ASSERT_TRUE(world.Run(img->Write(5 * 65536, Pattern(65536, 2))).ok());  // chunk 1: not flushed
  img.reset();  // crash: chunk 1's record is lost, its data is not
  img = OpenOrDie({.journal_mode = JournalMode::kBuffered});
  EXPECT_GE(img->stats().leaked_chunks, 1u);
  const uint64_t file_size = world.image_mem.size();
  // A partial write into a new chunk: the rest of the chunk must read zeros, not chunk 1's
  // old data.
  const auto small = Pattern(512, 3);
  ASSERT_TRUE(world.Run(img->Write(9 * 65536, small)).ok());
  EXPECT_EQ(img->stats().chunks_reused, 1u);
  EXPECT_EQ(world.image_mem.size(), file_size);  // no growth
  auto got = ReadAll(*img, 9 * 65536, 65536);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), got.begin()));
  for (size_t i = 512; i < got.size(); ++i) ASSERT_EQ(got[i], std::byte{0}) << i;
  // The unflushed write is gone, and reads as zeros (never-written without a base).
  auto lost = ReadAll(*img, 5 * 65536, 65536);
  for (std::byte b : lost) ASSERT_EQ(b, std::byte{0});
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, StorageGrowthFailureIsAClearError) {
  auto o = BaseOptions(true);
  ASSERT_TRUE(world.Create(o).ok());
  auto img = OpenOrDie();
  world.image_dev.set_fail([](Op op, uint64_t, uint64_t) { return op == Op::kResize; });
  const Status s = world.Run(img->Write(0, Pattern(4096, 1)));
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_NE(s.message().find("cannot grow the data file"), std::string::npos) << s.message();
  EXPECT_FALSE(img->metadata_error());  // nothing was promised: the image goes on
  world.image_dev.set_fail(nullptr);
  EXPECT_TRUE(world.Run(img->Write(0, Pattern(4096, 1))).ok());
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, FailedJournalWriteEntersMetadataErrorState) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  int told = 0;  // on_metadata_error: once, when the state is entered
  auto img = OpenOrDie(
      {.journal_mode = JournalMode::kUnbuffered, .on_metadata_error = [&told] { ++told; }});
  const uint64_t jbegin = world.header.journal_offset;
  const uint64_t jend = jbegin + world.header.journal_size;
  world.image_dev.set_fail([&](Op op, uint64_t off, uint64_t) {
    return op == Op::kWrite && off >= jbegin && off < jend;
  });
  EXPECT_EQ(told, 0);
  Status s = world.Run(img->Write(0, Pattern(4096, 1)));
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_TRUE(img->metadata_error());
  EXPECT_EQ(told, 1);
  world.image_dev.set_fail(nullptr);
  s = world.Run(img->Write(1 << 20, Pattern(4096, 2)));
  EXPECT_EQ(s.code(), StatusCode::kReadOnly);
  EXPECT_NE(s.message().find("refuses writes"), std::string::npos) << s.message();
  EXPECT_EQ(ReadAll(*img, 1 << 20, 4096), Expected(1 << 20, 4096));  // reads go on
  EXPECT_FALSE(world.Run(img->Close()).ok());
  EXPECT_EQ(told, 1);
  img = OpenOrDie();  // reopening recovers
  EXPECT_TRUE(img->stats().recovered);
  EXPECT_TRUE(world.Run(img->Write(1 << 20, Pattern(4096, 2))).ok());
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, WithoutJournalMetadataGoesInPlaceAndCrashNeedsOverride) {
  auto o = BaseOptions(true);
  o.journal_size = 0;
  ASSERT_TRUE(world.Create(o).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  const auto data = Pattern(4096, 9);
  ASSERT_TRUE(world.Run(img->Write(512 * 1024 + 512, data)).ok());
  EXPECT_EQ(img->stats().journal_sector_writes, 0u);
  img.reset();  // crash: nothing to replay
  auto refused = world.Open();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
  EXPECT_NE(refused.status().message().find("clean_shutdown=true"), std::string::npos)
      << refused.status().message();
  ASSERT_TRUE(world.MarkClean().ok());
  img = OpenOrDie();
  auto truth = Expected(0, 4 * kMiB);
  std::copy(data.begin(), data.end(), truth.begin() + 512 * 1024 + 512);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);  // the unbuffered write's metadata was durable
  EXPECT_EQ(img->Check().exit_code(), 0);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, CopyOnReadPullsBaseBlocksIntoTheImage) {
  auto o = BaseOptions();
  o.copy_on_read = true;
  ASSERT_TRUE(world.Create(o).ok());
  auto img = OpenOrDie();
  EXPECT_EQ(ReadAll(*img, 1000 * 512, 8192), Expected(1000 * 512, 8192));
  world.loop.RunUntilIdle();
  EXPECT_GE(img->stats().copy_on_read_copies, 1u);
  const uint64_t base_reads = img->stats().base_reads;
  EXPECT_EQ(ReadAll(*img, 1000 * 512, 8192), Expected(1000 * 512, 8192));
  EXPECT_EQ(img->stats().base_reads, base_reads);  // now served from the image
  ASSERT_TRUE(world.Run(img->Close()).ok());
  img = OpenOrDie();  // clean close kept the copied blocks
  EXPECT_EQ(ReadAll(*img, 1000 * 512, 8192), Expected(1000 * 512, 8192));
  EXPECT_EQ(img->stats().base_reads, 0u);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

// Found by the property suite: while an allocating write's journal record was in flight, a
// read of the part of its block that the write had merged from the base returned zeros (the
// chunk's entry was still dirty, and dirty chunks read as zeros).
TEST_F(ImageTest, ReadThroughAChunkNotYetJournaledSeesWhatWasWritten) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  const uint64_t journal = world.header.journal_offset, end = journal + world.header.journal_size;
  world.image_dev.set_delay([&](Op op, uint64_t off, uint64_t) {
    const bool journal_write = op == Op::kWrite && off >= journal && off < end;
    return journal_write ? Duration(std::chrono::milliseconds(10)) : Duration::zero();
  });
  std::vector<std::byte> mine(1024, std::byte{0x3c});
  bool written = false;
  Detach(img->Write(9 * 512, mine), [&](Status s) {
    EXPECT_TRUE(s.ok()) << s.ToString();
    written = true;
  });
  world.loop.RunFor(std::chrono::milliseconds(1));  // data written, journal record in flight
  ASSERT_FALSE(written);
  EXPECT_EQ(ReadAll(*img, 13 * 512, 512), Expected(13 * 512, 512));
  world.loop.RunUntil([&] { return written; });
  Put(9 * 512, mine);
  EXPECT_EQ(ReadAll(*img, 0, 64 * kKiB), Expected(0, 64 * kKiB));
  EXPECT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, CopyOnReadRespectsOutstandingLimit) {
  auto o = BaseOptions();
  o.copy_on_read = true;
  ASSERT_TRUE(world.Create(o).ok());
  auto img = OpenOrDie();
  // 2,000,000 bytes may be outstanding: a 3 MiB read cannot be copied at once.
  EXPECT_EQ(ReadAll(*img, 0, 3 * kMiB), Expected(0, 3 * kMiB));
  world.loop.RunUntilIdle();
  EXPECT_EQ(img->stats().copy_on_read_copies, 0u);
  EXPECT_GE(img->stats().copy_on_read_skipped, 1u);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, TryReadNowServesOneContiguousRunInTheImageAndDeclinesTheRest) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  auto img = OpenOrDie();
  // Chunk 1 is allocated before chunk 0, so [60 KiB, 68 KiB) is in the image but not one run.
  const auto hi = Pattern(4096, 1), lo = Pattern(4096, 2);
  ASSERT_TRUE(world.Run(img->Write(64 * kKiB, hi)).ok());
  ASSERT_TRUE(world.Run(img->Write(60 * kKiB, lo)).ok());
  Put(64 * kKiB, hi);
  Put(60 * kKiB, lo);
  const uint64_t reads = img->stats().guest_reads;
  const size_t pending = world.loop.pending();

  std::vector<std::byte> buf(4096);
  ASSERT_TRUE(img->TryReadNow(60 * kKiB, buf));
  EXPECT_EQ(buf, lo);
  ASSERT_TRUE(img->TryReadNow(64 * kKiB, buf));
  EXPECT_EQ(buf, hi);
  EXPECT_EQ(img->stats().guest_reads, reads + 2);
  EXPECT_EQ(world.loop.pending(), pending);  // nothing was submitted or posted

  std::vector<std::byte> two(8192);
  EXPECT_FALSE(img->TryReadNow(60 * kKiB, two));   // two runs of the data file
  EXPECT_FALSE(img->TryReadNow(128 * kKiB, buf));  // still in the base
  std::vector<std::byte> odd(1000);
  EXPECT_FALSE(img->TryReadNow(60 * kKiB, odd));       // not sector-sized
  EXPECT_FALSE(img->TryReadNow(4 * kMiB - 512, buf));  // past the end
  world.image_dev.set_fail([](Op op, uint64_t, uint64_t) { return op == Op::kRead; });
  EXPECT_FALSE(img->TryReadNow(60 * kKiB, buf));  // the device would fail: Read reports it
  world.image_dev.set_fail(nullptr);
  EXPECT_EQ(img->stats().guest_reads, reads + 2);
  EXPECT_EQ(ReadAll(*img, 60 * kKiB, 8192), Expected(60 * kKiB, 8192));
  EXPECT_EQ(ReadAll(*img, 128 * kKiB, 4096), Expected(128 * kKiB, 4096));
  ASSERT_TRUE(world.Run(img->Close()).ok());
  EXPECT_FALSE(img->TryReadNow(60 * kKiB, buf));  // closed
}

TEST_F(ImageTest, TryWriteNowWritesInPlaceAndDeclinesWhatNeedsMetadata) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  auto img = OpenOrDie();
  // Chunks 1 and 0, allocated in that order: [60 KiB, 68 KiB) is in the image but two runs.
  ASSERT_TRUE(world.Run(img->Write(64 * kKiB, Pattern(4096, 1))).ok());
  ASSERT_TRUE(world.Run(img->Write(60 * kKiB, Pattern(4096, 2))).ok());
  ASSERT_TRUE(world.Run(img->Flush()).ok());
  const auto stats = img->stats();
  const size_t pending = world.loop.pending();

  const auto mine = Pattern(4096, 3), yours = Pattern(512, 4);
  ASSERT_TRUE(img->TryWriteNow(64 * kKiB, mine));
  ASSERT_TRUE(img->TryWriteNow(60 * kKiB + 512, yours));
  EXPECT_EQ(img->stats().guest_writes, stats.guest_writes + 2);
  EXPECT_EQ(img->stats().in_place_writes, stats.in_place_writes + 2);
  EXPECT_EQ(img->stats().journal_writes, stats.journal_writes);
  EXPECT_EQ(world.loop.pending(), pending);  // nothing was submitted or posted
  Put(64 * kKiB, mine);
  Put(60 * kKiB, Pattern(4096, 2));
  Put(60 * kKiB + 512, yours);

  const auto other = Pattern(8192, 5);
  EXPECT_FALSE(img->TryWriteNow(60 * kKiB, other));  // two runs
  EXPECT_FALSE(img->TryWriteNow(128 * kKiB, mine));  // in the base, its chunk unallocated
  EXPECT_FALSE(img->TryWriteNow(64 * kKiB, std::span(other).first(1000)));  // not sector-sized
  EXPECT_FALSE(img->TryWriteNow(4 * kMiB - 512, mine));                     // past the end
  world.image_dev.set_fail([](Op op, uint64_t, uint64_t) { return op == Op::kWrite; });
  EXPECT_FALSE(img->TryWriteNow(64 * kKiB, other));  // the device would fail: Write reports it
  world.image_dev.set_fail(nullptr);
  EXPECT_EQ(img->stats().guest_writes, stats.guest_writes + 2);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), Expected(0, 4 * kMiB));
  ASSERT_TRUE(world.Run(img->Close()).ok());
  EXPECT_FALSE(img->TryWriteNow(64 * kKiB, mine));  // closed

  auto again = OpenOrDie();  // the writes are in the image, as any in-place write's
  EXPECT_EQ(ReadAll(*again, 0, 4 * kMiB), Expected(0, 4 * kMiB));
  ASSERT_TRUE(world.Run(again->Close()).ok());
  ImageOptions ro;
  ro.access = AccessMode::kReadOnly;
  auto read_only = OpenOrDie(ro);
  EXPECT_FALSE(read_only->TryWriteNow(64 * kKiB, mine));
  ASSERT_TRUE(world.Run(read_only->Close()).ok());
}

// Allocating writes served by TryWriteNow: in buffered mode, when nothing would wait. A 512-byte
// buffer holds 30 one-block records; while its write-out waits on a slow data flush, 8
// buffers' worth queue up behind it, and then TryWriteNow declines (Write would wait).
TEST_F(ImageTest, TryWriteNowAllocatesInBufferedModeUntilTheJournalWouldWait) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  world.image_dev.set_delay([](Op op, uint64_t, uint64_t) {
    return op == Op::kFlush ? Duration(std::chrono::milliseconds(1)) : Duration(0);
  });
  auto img = OpenOrDie({.journal_mode = JournalMode::kBuffered, .journal_buffer_bytes = 512});
  auto truth = Expected(0, 4 * kMiB);
  const auto block = [](int i) { return uint64_t(i) * 2 * 4096; };  // no two records merge
  const auto try_block = [&](int i) {
    const auto data = Pattern(4096, 300 + i);
    if (!img->TryWriteNow(block(i), data)) return false;
    std::copy(data.begin(), data.end(), truth.begin() + static_cast<ptrdiff_t>(block(i)));
    return true;
  };
  const auto before = img->stats();
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(try_block(i)) << i;
  EXPECT_EQ(img->stats().allocating_writes, before.allocating_writes + 30);
  EXPECT_EQ(img->stats().guest_writes, before.guest_writes + 30);
  EXPECT_EQ(img->stats().journal_sector_writes, 0u);
  EXPECT_EQ(img->stats().data_flushes, before.data_flushes);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);

  ASSERT_TRUE(try_block(30));  // does not fit: the buffer goes out in the background
  EXPECT_EQ(img->stats().data_flushes, before.data_flushes + 1);
  int i = 31;
  while (i < 512 && try_block(i)) ++i;
  EXPECT_EQ(i, 30 + 8 * 30);  // 8 buffers queued behind the write-out (from block 30), then no
  EXPECT_EQ(img->stats().guest_writes, before.guest_writes + uint64_t(i));
  EXPECT_EQ(img->stats().journal_sector_writes, 0u);  // the write-out still waits on its flush

  const auto data = Pattern(4096, 300 + i);  // Write waits for room, then records it
  ASSERT_TRUE(world.Run(img->Write(block(i), data)).ok());
  std::copy(data.begin(), data.end(), truth.begin() + static_cast<ptrdiff_t>(block(i)));
  EXPECT_GE(img->stats().journal_sector_writes, 1u);
  FlushCrashAndExpect(img, truth);  // every write durable, its record replayed
}

TEST_F(ImageTest, TryWriteNowLeavesAllocatingWritesThatWouldWaitToWrite) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  auto img = OpenOrDie({.journal_mode = JournalMode::kBuffered});
  ASSERT_TRUE(world.Run(img->Write(0, Pattern(4096, 1))).ok());  // allocates chunk 0
  auto truth = Expected(0, 4 * kMiB);
  std::copy_n(Pattern(4096, 1).begin(), 4096, truth.begin());
  const auto before = img->stats();
  const auto mine = Pattern(4096, 2);
  EXPECT_FALSE(img->TryWriteNow(64 * kKiB, mine));                          // chunk 1 unallocated
  EXPECT_FALSE(img->TryWriteNow(8192 + 512, std::span(mine).first(1024)));  // part of a block
  // A write holding the lock over block 3 (its data write in flight).
  bool done = false;
  Detach(img->Write(3 * 4096, mine), [&](Status s) { done = s.ok(); });
  EXPECT_FALSE(img->TryWriteNow(3 * 4096, Pattern(4096, 3)));
  world.loop.RunUntil([&] { return done; });
  std::copy(mine.begin(), mine.end(), truth.begin() + 3 * 4096);
  EXPECT_EQ(img->stats().guest_writes, before.guest_writes + 1);  // only the Write

  ASSERT_TRUE(img->TryWriteNow(4 * 4096, mine));  // whole block, chunk 0 allocated: served
  std::copy(mine.begin(), mine.end(), truth.begin() + 4 * 4096);
  EXPECT_EQ(img->stats().allocating_writes, before.allocating_writes + 2);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  ASSERT_TRUE(world.Run(img->Close()).ok());

  img = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  EXPECT_FALSE(img->TryWriteNow(5 * 4096, mine));  // its record must be written first
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

TEST_F(ImageTest, RejectsBadRequests) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  auto img = OpenOrDie();
  std::vector<std::byte> buf(1000);
  EXPECT_EQ(world.Run(img->Read(0, buf)).code(), StatusCode::kInvalidArgument);
  std::vector<std::byte> big(8192);
  EXPECT_EQ(world.Run(img->Write(4 * kMiB - 4096, big)).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(world.Run(img->Close()).ok());
  auto ro = OpenOrDie({.access = AccessMode::kReadOnly});
  EXPECT_EQ(world.Run(ro->Write(0, big)).code(), StatusCode::kReadOnly);
}

TEST_F(ImageTest, OpenNeedsTheBase) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  ImageEnv env{world.loop, world.loop, world.random};
  auto r = world.Run(Image::Open(env, {&world.image_dev, nullptr, nullptr}, {}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("base.raw"), std::string::npos);
}

// A header's claims are checked against the opener's memory limit before anything is read past
// the header: the open fails with kTooLarge, naming what it would need, and writes nothing.
TEST_F(ImageTest, AnOpenOverItsMetadataMemoryLimitFailsBeforeReadingMetadata) {
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());
  const format::MetadataMemory need =
      format::MetadataMemoryOf(world.header, world.image_mem.size());
  ASSERT_GT(need.total(), 4096u);
  int writes = 0, metadata_reads = 0;
  world.image_dev.set_fail([&](Op op, uint64_t offset, uint64_t) {
    writes += op == Op::kWrite || op == Op::kResize;
    metadata_reads += op == Op::kRead && offset >= world.header.table_offset;
    return false;
  });
  auto r = world.Open({.max_metadata_memory = need.total() - 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("more than the limit of"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(writes, 0);
  EXPECT_EQ(metadata_reads, 0);
  world.image_dev.set_fail(nullptr);
  auto img = OpenOrDie({.max_metadata_memory = need.total()});
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

// InPlaceRun: where a write needs no metadata, as one run of the data device.
TEST_F(ImageTest, InPlaceRunIsWhereAWriteNeedsNoMetadata) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());  // 4 KiB blocks
  auto img = OpenOrDie();
  const uint64_t data_offset = world.header.data_offset();
  EXPECT_FALSE(img->InPlaceRun(8192, 4096));  // the base's
  ASSERT_TRUE(world.Run(img->Write(8192, Pattern(4096, 1))).ok());
  EXPECT_EQ(img->InPlaceRun(8192, 4096), data_offset + 8192);
  EXPECT_EQ(img->InPlaceRun(8192 + 512, 1024), data_offset + 8192 + 512);
  EXPECT_FALSE(img->InPlaceRun(8192, 8192));  // the next block is still the base's
  EXPECT_FALSE(img->InPlaceRun(8192, 0));
  EXPECT_FALSE(img->InPlaceRun(8192 + 1, 512));  // not a request the image takes
  EXPECT_FALSE(img->InPlaceRun(img->size(), 512));
  ASSERT_TRUE(world.Run(img->Close()).ok());
}

// A host that writes whole blocks itself (the NBD export's workers) and has the image record
// them: the blocks read back at once, and after a flush they survive a crash as the image's
// own writes do; what the rule leaves out is refused.
TEST_F(ImageTest, HostAllocatingWritesAreRecordedAsTheImagesOwn) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());  // 4 KiB blocks, plain, no copy-on-read
  world.image_dev.set_delay([](Op op, uint64_t, uint64_t) {
    return op == Op::kFlush ? Duration(std::chrono::milliseconds(1)) : Duration(0);
  });
  auto img = OpenOrDie({.journal_mode = JournalMode::kBuffered, .journal_buffer_bytes = 512});
  ASSERT_TRUE(img->HostMayAllocate());
  const uint64_t data_offset = world.header.data_offset();
  auto truth = Expected(0, 4 * kMiB);
  const auto host_write = [&](uint64_t off, const std::vector<std::byte>& data) {
    ASSERT_TRUE(world.image_dev.TryWriteNow(data_offset + off, data, WriteMode::kCached));
    std::copy(data.begin(), data.end(), truth.begin() + static_cast<ptrdiff_t>(off));
  };
  const auto block = [](int i) { return uint64_t(i) * 2 * 4096; };  // no two records merge
  const auto before = img->stats();
  int i = 0;
  for (;; ++i) {  // recorded right here until the journal's queue is full
    ASSERT_LT(i, 512);
    host_write(block(i), Pattern(4096, 500 + i));
    if (!img->TryRecordHostWriteNow(block(i), 4096)) break;
  }
  EXPECT_EQ(img->stats().allocating_writes, before.allocating_writes + uint64_t(i));
  // Block i waits for room in the journal; reads see it meanwhile.
  bool recorded = false;
  Detach(img->RecordHostWrite(block(i), 4096), [&](Status s) { recorded = s.ok(); });
  EXPECT_FALSE(recorded);
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  world.loop.RunUntil([&] { return recorded; });
  EXPECT_EQ(img->stats().allocating_writes, before.allocating_writes + uint64_t(i) + 1);
  EXPECT_EQ(img->stats().guest_writes, before.guest_writes + uint64_t(i) + 1);
  EXPECT_EQ(img->InPlaceRun(block(i), 4096), data_offset + block(i));

  // Not whole blocks of the base, or past the disk: refused, nothing changed.
  EXPECT_FALSE(img->TryRecordHostWriteNow(block(1) + 4096 + 512, 1024));
  EXPECT_EQ(world.Run(img->RecordHostWrite(block(1) + 4096 + 512, 1024)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(world.Run(img->RecordHostWrite(4 * kMiB, 4096)).code(), StatusCode::kInvalidArgument);
  // The base ends at 3 MiB + 512: a range from its last block's start to past it is whole.
  host_write(3 * kMiB, Pattern(8192, 9));
  ASSERT_TRUE(world.Run(img->RecordHostWrite(3 * kMiB, 8192)).ok());
  EXPECT_EQ(ReadAll(*img, 0, 4 * kMiB), truth);
  FlushCrashAndExpect(img, truth);
}

TEST_F(ImageTest, HostAllocatingWritesOnlyWhereNothingButGuestsWrite) {
  ASSERT_TRUE(world.Create(BaseOptions()).ok());
  auto unbuffered = OpenOrDie({.journal_mode = JournalMode::kUnbuffered});
  EXPECT_FALSE(unbuffered->HostMayAllocate());  // each record must be durable before the reply
  EXPECT_EQ(world.Run(unbuffered->RecordHostWrite(0, 4096)).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(unbuffered->TryRecordHostWriteNow(0, 4096));
  ASSERT_TRUE(world.Run(unbuffered->Close()).ok());
  unbuffered.reset();
  EXPECT_FALSE(OpenOrDie({.access = AccessMode::kReadOnly})->HostMayAllocate());

  auto cor_options = BaseOptions();
  cor_options.copy_on_read = true;  // copies of the base could land on a host's write
  ASSERT_TRUE(world.Create(cor_options).ok());
  EXPECT_FALSE(OpenOrDie({.journal_mode = JournalMode::kBuffered})->HostMayAllocate());
  ASSERT_TRUE(world.Create(BaseOptions(/*compact=*/true)).ok());  // chunks are placed by the image
  EXPECT_FALSE(OpenOrDie({.journal_mode = JournalMode::kBuffered})->HostMayAllocate());
}

}  // namespace
}  // namespace fvd
