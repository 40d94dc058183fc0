#include "core/posix/grow_command.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace fvd {
namespace {

std::string TempPath(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string(name) + "-" + std::to_string(::getpid())))
      .string();
}

TEST(GrowCommandTest, RunsWithDeviceAndSizeInTheEnvironment) {
  const std::string path = TempPath("fvd-grow");
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  const Status s = RunGrowCommand("truncate -s \"$FVD_NEW_SIZE\" \"$FVD_DEVICE\"", path, 123456);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(std::filesystem::file_size(path), 123456u);
  std::filesystem::remove(path);
}

TEST(GrowCommandTest, FailureNamesCommandDeviceAndExitCode) {
  const Status s = RunGrowCommand("exit 3", "/dev/vg/disk", 1 << 20);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  for (const char* needle : {"'exit 3'", "/dev/vg/disk", "1048576", "exit code 3"}) {
    EXPECT_NE(s.message().find(needle), std::string::npos) << needle << " in " << s.message();
  }
}

TEST(GrowCommandTest, KilledCommandNamesTheSignal) {
  const Status s = RunGrowCommand("kill -9 $$", "/dev/x", 4096);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_NE(s.message().find("signal 9"), std::string::npos) << s.message();
}

TEST(GrowCommandTest, NoCommandIsUnsupported) {
  const Status s = RunGrowCommand("", "/dev/x", 4096);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("no add_storage_cmd"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fvd
