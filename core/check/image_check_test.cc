#include <gtest/gtest.h>

#include "core/check/check.h"
#include "core/format/chunk_table.h"
#include "core/testing/image_world.h"
#include "core/util/endian.h"

namespace fvd {
namespace {

using testing::ImageWorld;
using testing::Pattern;

class ImageCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    format::CreateOptions o;
    o.virtual_size = 1 << 20;
    o.compact_image = true;
    o.chunk_size = 64 << 10;
    o.storage_grow_unit = 256 << 10;
    ASSERT_TRUE(world.Create(o).ok());
    auto img = world.Open();
    ASSERT_TRUE(img.ok());
    for (uint64_t chunk : {0, 3, 7}) {  // physical chunks 0, 1, 2
      ASSERT_TRUE(world.Run((*img)->Write(chunk << 16, Pattern(4096, chunk))).ok());
    }
    ASSERT_TRUE(world.Run((*img)->Close()).ok());
  }
  // Overwrites table entry `index` on disk.
  void SetEntry(uint64_t index, uint32_t value) {
    std::array<std::byte, 4> b;
    StoreLE32(b, 0, value);
    world.image_mem.WriteNow(world.header.table_offset + index * 4, b);
  }
  CheckReport CheckNow() {
    auto img = world.Open({.access = AccessMode::kReadOnly});
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return (*img)->Check();
  }
  ImageWorld world;
};

TEST_F(ImageCheckTest, CleanImage) {
  const CheckReport r = CheckNow();
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_EQ(r.allocated_chunks, 3u);
  EXPECT_EQ(r.capacity_chunks, 4u);  // one 256 KiB growth
  EXPECT_TRUE(r.clean_shutdown);
}

TEST_F(ImageCheckTest, UnreferencedChunkBelowTheHighestIsALeak) {
  SetEntry(3, format::kEmptyChunk);  // physical chunk 1 is now referenced by nobody
  const CheckReport r = CheckNow();
  EXPECT_EQ(r.leaked_chunks, 1u);
  EXPECT_EQ(r.exit_code(), 3);
}

TEST_F(ImageCheckTest, ChunkPastTheDataFileEndIsCorruption) {
  SetEntry(9, 40);
  const CheckReport r = CheckNow();
  ASSERT_EQ(r.corruptions.size(), 1u);
  EXPECT_NE(r.corruptions[0].find("entry 9 maps chunk 40"), std::string::npos) << r.corruptions[0];
  EXPECT_EQ(r.exit_code(), 2);
}

TEST_F(ImageCheckTest, DuplicateMappingFailsOpen) {
  SetEntry(9, 1);  // chunk 1 is entry 3's
  auto img = world.Open({.access = AccessMode::kReadOnly});
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), StatusCode::kCorruption);
  EXPECT_NE(img.status().message().find("both map physical chunk 1"), std::string::npos);
}

}  // namespace
}  // namespace fvd
