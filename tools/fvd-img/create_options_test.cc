#include "tools/fvd-img/create_options.h"

#include <gtest/gtest.h>

namespace fvd::img {
namespace {

TEST(CreateOptionsTest, AppliesEveryKey) {
  CreateRequest r;
  ASSERT_TRUE(ApplyCreateOptions("compact_image=on,block_size=4k,chunk_size=2M,"
                                 "storage_grow_unit=1G,add_storage_cmd=grow,,now,"
                                 "data_file=d.raw,data_file_fmt=raw,copy_on_read=true,"
                                 "prefetch_start_delay=30,journal_size=1M,"
                                 "generate_prefetch_profile=on,prefetch_profile_capacity=4k,"
                                 "profile_directed_prefetch_start_delay=2,"
                                 "prefetch_profile_from=boot.fvd",
                                 r)
                  .ok());
  const format::CreateOptions& o = r.options;
  EXPECT_TRUE(o.compact_image);
  EXPECT_EQ(o.block_size, 4096u);
  EXPECT_EQ(o.chunk_size, 2u << 20);
  EXPECT_EQ(o.storage_grow_unit, 1ull << 30);
  EXPECT_EQ(o.add_storage_cmd, "grow,now");  // ",," escapes a comma, as in qemu-img
  EXPECT_EQ(o.data_file, "d.raw");
  EXPECT_EQ(o.data_file_fmt, "raw");
  EXPECT_TRUE(o.copy_on_read);
  EXPECT_EQ(o.prefetch_start_delay, 30);
  EXPECT_EQ(o.journal_size, 1u << 20);
  EXPECT_TRUE(o.generate_prefetch_profile);
  EXPECT_EQ(o.prefetch_profile_capacity, 4096u);
  EXPECT_EQ(o.profile_directed_prefetch_start_delay, 2);
  EXPECT_EQ(r.prefetch_profile_from, "boot.fvd");
}

TEST(CreateOptionsTest, ErrorsNameKeyAndValue) {
  CreateRequest o;
  auto s = ApplyCreateOptions("colour=blue", o);
  EXPECT_NE(s.message().find("unknown option 'colour'"), std::string::npos) << s.message();
  s = ApplyCreateOptions("compact_image=maybe", o);
  EXPECT_NE(s.message().find("compact_image=maybe"), std::string::npos) << s.message();
  s = ApplyCreateOptions("chunk_size=12Q", o);
  EXPECT_NE(s.message().find("chunk_size"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'12Q'"), std::string::npos) << s.message();
  s = ApplyCreateOptions("prefetch_start_delay=soon", o);
  EXPECT_NE(s.message().find("prefetch_start_delay=soon"), std::string::npos) << s.message();
  s = ApplyCreateOptions("block_size=8G", o);
  EXPECT_NE(s.message().find("block_size=8G is too large"), std::string::npos) << s.message();
  s = ApplyCreateOptions("prefetch_profile_capacity=5M", o);
  EXPECT_NE(s.message().find("prefetch_profile_capacity=5M is too large"), std::string::npos)
      << s.message();
  s = ApplyCreateOptions("journal_size", o);
  EXPECT_NE(s.message().find("needs a value"), std::string::npos) << s.message();
}

TEST(CreateOptionsTest, HelpListsKeys) {
  const std::string help = CreateOptionsHelp();
  for (const char* key : {"compact_image", "block_size", "journal_size", "detect_sparse_hole"}) {
    EXPECT_NE(help.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace fvd::img
