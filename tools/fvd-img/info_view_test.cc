#include "tools/fvd-img/info_view.h"

#include <gtest/gtest.h>

#include "core/format/layout.h"

namespace fvd::img {
namespace {

ImageFacts Sample() {
  format::CreateOptions o;
  o.virtual_size = 1ull << 30;
  o.base_img = "base.raw";
  o.base_img_length = 1ull << 29;
  o.compact_image = true;
  return ImageFacts{.filename = "disk.fvd",
                    .actual_size = 4096,
                    .header = *format::PlanImage(o),
                    .profile_entries = 0,
                    .profile_problem = {}};
}

TEST(InfoViewTest, JsonHasQemuKeysAndEveryHeaderField) {
  const ImageFacts f = Sample();
  const auto j = InfoToJson(f);
  EXPECT_EQ(j["virtual-size"], 1ull << 30);
  EXPECT_EQ(j["format"], "fvd");
  EXPECT_EQ(j["backing-filename"], "base.raw");
  EXPECT_EQ(j["cluster-size"], 1u << 20);
  EXPECT_EQ(j["dirty-flag"], false);
  const auto& data = j["format-specific"]["data"];
  EXPECT_EQ(data["magic"], 0x5143F5A9u);
  EXPECT_EQ(data["bitmap_offset"], f.header.bitmap_offset);
  EXPECT_EQ(data["table_offset"], f.header.table_offset);
  EXPECT_EQ(data["journal_offset"], f.header.journal_offset);
  EXPECT_EQ(data["compact_image"], true);
  EXPECT_EQ(data["prefetch_start_delay"], -1);
  int fields = 0;
  format::ForEachHeaderField(f.header, [&](std::string_view name, size_t, size_t, const auto&) {
    EXPECT_TRUE(data.contains(std::string(name))) << name;
    ++fields;
  });
  EXPECT_EQ(fields, 41 + 4);  // the v1 table of FVD-FORMAT.md, plus our four v2 fields
}

TEST(InfoViewTest, TextLooksLikeQemuImg) {
  const std::string text = InfoToText(Sample());
  EXPECT_NE(text.find("image: disk.fvd\n"), std::string::npos);
  EXPECT_NE(text.find("file format: fvd\n"), std::string::npos);
  EXPECT_NE(text.find("virtual size: 1 GiB (1073741824 bytes)\n"), std::string::npos);
  EXPECT_NE(text.find("backing file: base.raw\n"), std::string::npos);
}

}  // namespace
}  // namespace fvd::img
