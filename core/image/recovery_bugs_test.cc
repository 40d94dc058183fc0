// Recovery against the engine with its deliberate bugs (core/image/test_bugs.h): a unit check of
// what replay must skip. Every sector a recycle or a recovery leaves from the previous epoch
// holds records that were true then and still are, so only a sector of the previous epoch whose
// records were never true (a journal region written by something else: an older image in the
// same file, a misdirected write) tells whether replay honours epochs. The property suite plants
// such sectors too (proptests/, DamageJournal); this is the same question asked directly.
#include <gtest/gtest.h>

#include "core/format/journal_sector.h"
#include "core/testing/image_world.h"

namespace fvd {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// An overlay whose journal is at epoch >= 1 (a crash and recovery start a new epoch), with a
// sector of the previous epoch planted in it claiming blocks [1 MiB, 1 MiB + 64 KiB) are in
// the image though nothing was ever written there. Crashes and reopens it with `bugs`; returns
// what those blocks read.
std::vector<std::byte> ReadAfterAStaleSector(const TestBugs& bugs, std::vector<std::byte>& base) {
  testing::ImageWorld world;
  base = world.MakeBase(3 * kMiB, 5);
  EXPECT_TRUE(world.Create(testing::SmallOverlayOptions()).ok());
  ImageOptions o;
  o.bugs = bugs;
  o.journal_mode = JournalMode::kUnbuffered;
  auto img = world.Open(o);
  EXPECT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_TRUE(world.Run((*img)->Write(0, std::vector<std::byte>(4096, std::byte{1}))).ok());
  img->reset();  // a crash: recovery starts a new epoch
  img = world.Open(o);
  EXPECT_TRUE(img.ok());
  const format::Header h = (*img)->header();
  EXPECT_GE(h.journal_epoch, 1u);
  img->reset();  // another crash, before anything is written in the new epoch
  format::JournalSectorBuilder b(format::JournalFormat::kV2, h.journal_epoch - 1);
  EXPECT_TRUE(b.AddBitmap({static_cast<int64_t>(kMiB / 512), 128}));
  const auto sector = b.Finish();
  world.image_mem.WriteNow(h.journal_offset + h.journal_size - 512, sector);
  img = world.Open(o);
  EXPECT_TRUE(img.ok()) << img.status().ToString();
  std::vector<std::byte> out(64 << 10);
  EXPECT_TRUE(world.Run((*img)->Read(kMiB, out)).ok());
  return out;
}

TEST(RecoveryBugs, ASectorOfThePreviousEpochIsNotReplayed) {
  std::vector<std::byte> base;
  const auto read = ReadAfterAStaleSector(TestBugs{}, base);
  EXPECT_TRUE(std::equal(read.begin(), read.end(), base.begin() + kMiB)) << "the base, untouched";
}

TEST(RecoveryBugs, ReplayingThePreviousEpochIsCaught) {
  std::vector<std::byte> base;
  TestBugs bugs;
  bugs.replay_stale_epoch = true;
  const auto read = ReadAfterAStaleSector(bugs, base);
  EXPECT_FALSE(std::equal(read.begin(), read.end(), base.begin() + kMiB))
      << "replay_stale_epoch applied the stale sector, and the check above must see it";
}

}  // namespace
}  // namespace fvd
