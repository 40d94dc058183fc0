// DirectPath over an image in memory (for what is in place) and a scratch file standing for
// its data file (for where the bytes go): what it learns, where it puts requests, and when it
// declines them.
#include "tools/nbdkit/direct_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/testing/image_world.h"

namespace fvd::nbd {
namespace {

constexpr uint64_t kKiB = 1024;

std::vector<std::byte> Pattern(size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + seed) % 251);
  return v;
}

class DirectPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/fvd-direct-path-XXXXXX";
    fd_ = ::mkstemp(name);
    ASSERT_GE(fd_, 0);
    path_ = name;
    ASSERT_EQ(::ftruncate(fd_, 16 << 20), 0);
    world_.MakeBase(4 << 20, 3);
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::unique_ptr<Image> Open(bool compact) {
    EXPECT_TRUE(world_.Create(testing::SmallOverlayOptions(compact)).ok());
    auto img = world_.Open();
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return img.ok() ? std::move(*img) : nullptr;
  }
  std::unique_ptr<DirectPath> Direct(const Image& img, bool writable = true) {
    return std::make_unique<DirectPath>(img, ::dup(fd_), /*write_through=*/false, writable);
  }
  std::vector<std::byte> FileBytes(uint64_t offset, size_t n) {
    std::vector<std::byte> out(n);
    EXPECT_EQ(::pread(fd_, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    return out;
  }

  testing::ImageWorld world_;
  int fd_ = -1;
  std::string path_;
};

TEST_F(DirectPathTest, AFreshOverlayHasNothingInPlaceSoEverythingGoesToTheLoop) {
  auto img = Open(/*compact=*/false);
  auto direct = Direct(*img);
  direct->LearnAll(*img);
  EXPECT_EQ(direct->unit(), 4 * kKiB);  // the bitmap's block
  std::vector<std::byte> buf(4096);
  EXPECT_FALSE(direct->Lookup(0, 4096));
  EXPECT_FALSE(direct->Read(0, buf));
  EXPECT_FALSE(direct->Write(0, buf));
}

TEST_F(DirectPathTest, WrittenBlocksOfAPlainOverlayGoDirectToDataOffsetPlusOffset) {
  auto img = Open(/*compact=*/false);
  const uint64_t data_offset = img->header().data_offset();
  ASSERT_TRUE(world_.Run(img->Write(64 * kKiB, Pattern(8 * kKiB, 1))).ok());
  auto direct = Direct(*img);
  direct->Learn(*img, 60 * kKiB, 16 * kKiB);  // blocks 15..18: 16 and 17 were written
  EXPECT_EQ(direct->Lookup(64 * kKiB, 8 * kKiB), data_offset + 64 * kKiB);
  EXPECT_EQ(direct->Lookup(68 * kKiB, 512), data_offset + 68 * kKiB);
  EXPECT_FALSE(direct->Lookup(60 * kKiB, 8 * kKiB));  // block 15 is the base's
  EXPECT_FALSE(direct->Lookup(72 * kKiB, 4 * kKiB));  // block 18 too
  const auto mine = Pattern(8 * kKiB, 9);
  auto st = direct->Write(64 * kKiB, mine);
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->ok()) << st->ToString();
  EXPECT_EQ(FileBytes(data_offset + 64 * kKiB, 8 * kKiB), mine);
  std::vector<std::byte> back(8 * kKiB);
  ASSERT_TRUE(direct->Read(64 * kKiB, back));
  EXPECT_EQ(back, mine);
  EXPECT_TRUE(direct->SyncIfWritten().ok());
}

TEST_F(DirectPathTest, ACompactOverlayGoesDirectInsideOneJournaledChunk) {
  auto img = Open(/*compact=*/true);
  const uint64_t data_offset = img->header().data_offset();
  // Chunk 5 (64 KiB chunks) gets the first chunk of storage: chunk id 0.
  ASSERT_TRUE(world_.Run(img->Write(5 * 64 * kKiB, Pattern(64 * kKiB, 2))).ok());
  ASSERT_TRUE(world_.Run(img->Write(6 * 64 * kKiB, Pattern(4 * kKiB, 3))).ok());  // chunk id 1
  auto direct = Direct(*img);
  direct->LearnAll(*img);
  EXPECT_EQ(direct->Lookup(5 * 64 * kKiB + 4 * kKiB, 4 * kKiB), data_offset + 4 * kKiB);
  EXPECT_EQ(direct->Lookup(6 * 64 * kKiB, 4 * kKiB), data_offset + 64 * kKiB);
  // Across the chunk boundary: two runs (even if adjacent on disk), so the loop does it.
  EXPECT_FALSE(direct->Lookup(6 * 64 * kKiB - 4 * kKiB, 8 * kKiB));
  EXPECT_FALSE(direct->Lookup(6 * 64 * kKiB + 4 * kKiB, 4 * kKiB));  // the base's block
  const auto mine = Pattern(4 * kKiB, 4);
  ASSERT_TRUE(direct->Write(5 * 64 * kKiB + 8 * kKiB, mine));
  EXPECT_EQ(FileBytes(data_offset + 8 * kKiB, 4 * kKiB), mine);
  // Learning a range of several units inside one chunk: each at its own place in the run.
  auto fresh = Direct(*img);
  fresh->Learn(*img, 5 * 64 * kKiB + 4 * kKiB, 12 * kKiB);
  EXPECT_EQ(fresh->Lookup(5 * 64 * kKiB + 4 * kKiB, 12 * kKiB), data_offset + 4 * kKiB);
  EXPECT_EQ(fresh->Lookup(5 * 64 * kKiB + 12 * kKiB, 4 * kKiB), data_offset + 12 * kKiB);
  EXPECT_FALSE(fresh->Lookup(5 * 64 * kKiB, 4 * kKiB));  // not asked about
}

TEST_F(DirectPathTest, OnceWritesAreRefusedOnlyReadsGoDirect) {
  auto img = Open(/*compact=*/false);
  ASSERT_TRUE(world_.Run(img->Write(0, Pattern(4 * kKiB, 5))).ok());
  auto direct = Direct(*img);
  direct->LearnAll(*img);
  std::vector<std::byte> buf(4 * kKiB);
  ASSERT_TRUE(direct->Write(0, buf));
  direct->RefuseWrites();
  EXPECT_FALSE(direct->Write(0, buf));
  EXPECT_TRUE(direct->Read(0, buf));
  auto read_only = Direct(*img, /*writable=*/false);
  read_only->LearnAll(*img);
  EXPECT_FALSE(read_only->Write(0, buf));
  EXPECT_TRUE(read_only->Read(0, buf));
}

TEST_F(DirectPathTest, RangesPastTheDiskAreDeclined) {
  auto img = Open(/*compact=*/false);
  ASSERT_TRUE(world_.Run(img->Write(img->size() - 4 * kKiB, Pattern(4 * kKiB, 6))).ok());
  auto direct = Direct(*img);
  direct->LearnAll(*img);
  EXPECT_TRUE(direct->Lookup(img->size() - 4 * kKiB, 4 * kKiB));
  EXPECT_FALSE(direct->Lookup(img->size() - 4 * kKiB, 8 * kKiB));
  EXPECT_FALSE(direct->Lookup(img->size(), 512));
  EXPECT_FALSE(direct->Lookup(0, 0));
}

// A plain overlay only guests write (Image::HostMayAllocate): whole blocks go to their place
// before the image knows of them, parts of blocks the base holds do not; once recorded and
// learned, the blocks are in place.
TEST_F(DirectPathTest, WholeBlocksOfAnOverlayOnlyGuestsWriteAreWrittenBeforeTheyAreRecorded) {
  auto img = Open(/*compact=*/false);
  ASSERT_TRUE(img->HostMayAllocate());
  const uint64_t data_offset = img->header().data_offset();
  auto direct = Direct(*img);
  direct->LearnAll(*img);
  const auto mine = Pattern(8 * kKiB, 11);
  auto st = direct->WriteAllocating(64 * kKiB, mine);
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->ok()) << st->ToString();
  EXPECT_EQ(FileBytes(data_offset + 64 * kKiB, 8 * kKiB), mine);
  EXPECT_FALSE(direct->Lookup(64 * kKiB, 8 * kKiB));  // not recorded yet
  EXPECT_FALSE(direct->WriteAllocating(64 * kKiB + 512, std::span(mine).first(1024)));
  EXPECT_FALSE(direct->WriteAllocating(60 * kKiB, std::span(mine).first(4 * kKiB + 512)));
  EXPECT_FALSE(direct->WriteAllocating(img->size() - 4 * kKiB, mine));  // past the disk
  ASSERT_TRUE(img->TryRecordHostWriteNow(64 * kKiB, 8 * kKiB));
  direct->Learn(*img, 64 * kKiB, 8 * kKiB);
  EXPECT_EQ(direct->Lookup(64 * kKiB, 8 * kKiB), data_offset + 64 * kKiB);
  direct->RefuseWrites();
  EXPECT_FALSE(direct->WriteAllocating(128 * kKiB, mine));
  EXPECT_FALSE(Direct(*img, /*writable=*/false)->WriteAllocating(128 * kKiB, mine));
}

TEST_F(DirectPathTest, ACompactOverlayAllocatesOnlyThroughTheLoop) {
  auto img = Open(/*compact=*/true);  // the image chooses each chunk's place
  auto direct = Direct(*img);
  EXPECT_FALSE(direct->WriteAllocating(64 * kKiB, Pattern(4 * kKiB, 12)));
}

}  // namespace
}  // namespace fvd::nbd
