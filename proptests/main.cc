// The property tests' main: picks the budget, then runs GoogleTest.
//
// FVD_PROPTEST_BUDGET=ci (default): 1000 sequences per property from a fixed RapidCheck seed,
// so CI runs are repeatable. FVD_PROPTEST_BUDGET=nightly: 100x as many (100000), from a fresh
// seed each night. An RC_PARAMS already set wins (failures print one with `reproduce=`).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
  const char* budget = std::getenv("FVD_PROPTEST_BUDGET");
  if (budget != nullptr && std::strcmp(budget, "nightly") != 0 && std::strcmp(budget, "ci") != 0) {
    std::cerr << "FVD_PROPTEST_BUDGET=" << budget << ": expected ci or nightly\n";
    return 2;
  }
  // RapidCheck reads RC_PARAMS when it is first used, which is after this.
  const bool nightly = budget != nullptr && std::strcmp(budget, "nightly") == 0;
  if (std::getenv("RC_PARAMS") == nullptr)
    setenv("RC_PARAMS", nightly ? "max_success=100000" : "max_success=1000 seed=20261125", 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
