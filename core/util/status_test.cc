#include "core/util/status.h"

#include <gtest/gtest.h>

namespace fvd {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd value " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  FVD_ASSIGN_OR_RETURN(int h, Half(v));
  FVD_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int v) {
  FVD_RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  const Status s = Status::Corruption("bad magic");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.ToString(), "corruption: bad magic");
  EXPECT_EQ(s.WithContext("header").ToString(), "corruption: header: bad magic");
  EXPECT_EQ(s.WithContext("header").code(), StatusCode::kCorruption);
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(12), 3);
  const auto r = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd value 3");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fvd
