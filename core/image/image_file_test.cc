#include "core/image/image_file.h"

#include <gtest/gtest.h>

#include "core/format/chunk_table.h"
#include "core/format/layout.h"
#include "core/seam/memory_device.h"
#include "core/seam/virtual_loop.h"
#include "core/util/endian.h"

namespace fvd {
namespace {

class ImageFileTest : public ::testing::Test {
 protected:
  format::Header Plan(bool compact) {
    format::CreateOptions o;
    o.virtual_size = 256 << 20;
    o.base_img = "base.raw";
    o.base_img_length = 64 << 20;
    o.compact_image = compact;
    return *format::PlanImage(o);
  }
  VirtualLoop loop;
  LoopDriver drive = [this](const std::function<bool()>& done) { loop.RunUntil(done); };
};

TEST_F(ImageFileTest, CreateThenReadHeaderBack) {
  for (bool compact : {false, true}) {
    MemoryDevice dev(loop, 12345);  // old contents and size are replaced
    const auto h = Plan(compact);
    ASSERT_TRUE(WriteNewImage(dev, nullptr, drive, h).ok());
    EXPECT_EQ(dev.size(), format::InitialFileSize(h));
    auto back = ReadImageHeader(dev, drive);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, h);
  }
}

TEST_F(ImageFileTest, CompactTableStartsEmpty) {
  MemoryDevice dev(loop, 0);
  const auto h = Plan(true);
  ASSERT_TRUE(WriteNewImage(dev, nullptr, drive, h).ok());
  std::vector<std::byte> table(h.table_region_size());
  dev.ReadNow(h.table_offset, table);
  auto decoded = format::DecodeChunkTable(table, h.table_entries());
  ASSERT_TRUE(decoded.ok());
  for (uint32_t e : *decoded) ASSERT_EQ(e, format::kEmptyChunk);
}

TEST_F(ImageFileTest, SeparateDataFileIsSized) {
  MemoryDevice image(loop, 0), data(loop, 0);
  format::CreateOptions o;
  o.virtual_size = 8 << 20;
  o.data_file = "disk.data";
  const auto h = *format::PlanImage(o);
  ASSERT_TRUE(WriteNewImage(image, &data, drive, h).ok());
  EXPECT_EQ(data.size(), 8u << 20);
  EXPECT_EQ(image.size(), h.metadata_size);
  EXPECT_EQ(h.data_offset(), 0u);
  EXPECT_FALSE(WriteNewImage(image, nullptr, drive, h).ok());
}

TEST_F(ImageFileTest, ForeignAndTruncatedFilesAreRefused) {
  MemoryDevice dev(loop, 4096);
  std::vector<std::byte> junk(4096, std::byte{0x42});
  dev.WriteNow(0, junk);
  auto r = ReadImageHeader(dev, drive);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("magic"), std::string::npos);

  MemoryDevice img(loop, 0);
  const auto h = Plan(false);
  ASSERT_TRUE(WriteNewImage(img, nullptr, drive, h).ok());
  img.ResizeNow(h.metadata_size - 4096);
  r = ReadImageHeader(img, drive);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
}

}  // namespace
}  // namespace fvd
