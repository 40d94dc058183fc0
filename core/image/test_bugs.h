// Deliberate bugs, for tests that prove the checks catch them (the simulator's oracle, the
// property tests). They exist only in test builds: FVD_TEST_BUGS is defined by the
// *_testbugs libraries (core/CMakeLists.txt), never by the shipped ones.
#pragma once

#ifdef FVD_TEST_BUGS
#define FVD_IF_TEST_BUG(flag) (options.bugs.flag)
#else
#define FVD_IF_TEST_BUG(flag) false
#endif

#include <array>
#include <string_view>

namespace fvd {

struct TestBugs {
  // Write journal records without first making their data durable: no data flush before a
  // buffered write-out, and data written without FUA in unbuffered mode.
  bool skip_data_flush_before_journal = false;
  // Set stale bits (and clean dirty chunks) before the journal write completes.
  bool stale_before_journal = false;
  // Replay records of the previous epoch too.
  bool replay_stale_epoch = false;
  // Copy-on-read writes base data even into a range a guest write holds locked.
  bool cor_ignores_write_lock = false;
  // Copy-on-read copies its whole range without re-checking the fresh bitmap under its lock.
  bool cor_skips_recheck = false;
};

// Each bug by the name tests and `fvdsim_testbugs --bug NAME` use (the field's name).
struct TestBugName {
  std::string_view name;
  bool TestBugs::*flag;
};
inline constexpr std::array<TestBugName, 5> kTestBugNames = {{
    {"skip_data_flush_before_journal", &TestBugs::skip_data_flush_before_journal},
    {"stale_before_journal", &TestBugs::stale_before_journal},
    {"replay_stale_epoch", &TestBugs::replay_stale_epoch},
    {"cor_ignores_write_lock", &TestBugs::cor_ignores_write_lock},
    {"cor_skips_recheck", &TestBugs::cor_skips_recheck},
}};

// Turns on the bug named `name`; false if there is none of that name.
inline bool SetTestBug(std::string_view name, TestBugs& bugs) {
  for (const TestBugName& b : kTestBugNames) {
    if (b.name == name) {
      bugs.*b.flag = true;
      return true;
    }
  }
  return false;
}

}  // namespace fvd
