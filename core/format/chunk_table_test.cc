#include "core/format/chunk_table.h"

#include <gtest/gtest.h>

#include "core/util/endian.h"

namespace fvd::format {
namespace {

TEST(ChunkTableTest, RoundTripWithEmptyEntries) {
  const std::vector<uint32_t> table = {0, kEmptyChunk, 5, 1, kEmptyChunk};
  std::vector<std::byte> bytes(4096);
  EncodeChunkTable(table, bytes);
  EXPECT_EQ(LoadLE32(bytes, 8), 5u);              // little-endian at entry * 4
  EXPECT_EQ(LoadLE32(bytes, 4092), kEmptyChunk);  // the region's tail reads as empty
  auto back = DecodeChunkTable(bytes, table.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, table);
}

TEST(ChunkTableTest, DirtyEntriesNeverReachDisk) {
  const std::vector<uint32_t> table = {3 | kDirtyChunk, 4};
  std::vector<std::byte> bytes(8);
  EncodeChunkTable(table, bytes);
  EXPECT_EQ(LoadLE32(bytes, 0), kEmptyChunk);
  EXPECT_EQ(LoadLE32(bytes, 4), 4u);
}

TEST(ChunkTableTest, DirtyBitOnDiskIsCorruption) {
  std::vector<std::byte> bytes(12);
  StoreLE32(bytes, 0, 1);
  StoreLE32(bytes, 4, 2);
  StoreLE32(bytes, 8, 7 | kDirtyChunk);
  const auto r = DecodeChunkTable(bytes, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("entry 2 (table byte 8)"), std::string::npos);
}

TEST(ChunkTableTest, DuplicateMappingNamesBothEntries) {
  std::vector<std::byte> bytes(16);
  EncodeChunkTable(std::vector<uint32_t>{9, 1, kEmptyChunk, 9}, bytes);
  const auto r = DecodeChunkTable(bytes, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("entries 0 and 3 both map physical chunk 9"),
            std::string::npos);
}

TEST(ChunkTableTest, TooFewBytes) {
  std::vector<std::byte> bytes(10);
  EXPECT_FALSE(DecodeChunkTable(bytes, 3).ok());
}

TEST(ChunkTableTest, EntryHelpers) {
  EXPECT_TRUE(IsEmptyChunk(kEmptyChunk));
  EXPECT_FALSE(IsDirtyChunk(kEmptyChunk));
  EXPECT_TRUE(IsDirtyChunk(5 | kDirtyChunk));
  EXPECT_EQ(ChunkId(5 | kDirtyChunk), 5u);
}

}  // namespace
}  // namespace fvd::format
