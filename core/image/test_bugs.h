// Deliberate bugs, for tests that prove the checks catch them (the simulator's oracle, the
// property tests). They exist only in test builds: FVD_TEST_BUGS is defined by the
// *_testbugs libraries (core/CMakeLists.txt), never by the shipped ones.
//
// What catches each, by kind of test (every one in the default test suite):
//
//   bug                             property    exhaustive  simulator               unit
//   skip_data_flush_before_journal  DeliberateBug ExhaustiveBugs SimulationBugsTest,  -
//                                                             SwarmFoundWorld
//   stale_before_journal            DeliberateBug -          SwarmFoundWorld         -
//   replay_stale_epoch              DeliberateBug -          (unreachable, below)    RecoveryBugs
//                                   JournalDamage
//   cor_ignores_write_lock          DeliberateBug -          SwarmFoundWorld         -
//   cor_skips_recheck               DeliberateBug -          SwarmFoundWorld         -
//
// DeliberateBug, JournalDamage, ExhaustiveBugs: proptests/; SimulationBugsTest and
// SwarmFoundWorld (worlds `fvdsim explore --swarm` found and `fvdsim minimize` shrank, in
// sim/world/testdata/): sim/world/simulation_bugs_test.cc; RecoveryBugs:
// core/image/recovery_bugs_test.cc. replay_stale_epoch cannot show in any run of the
// simulator: every previous-epoch sector a recycle or a recovery leaves holds records that
// were true and still are (bits are only set, entries only map empty chunks), so replaying
// them is idempotent; only a sector whose records were never true exposes it, and the
// simulator's faults (crashes, lost and torn writes, I/O errors) write none
// (bench/swarm/measure.py measures the bug's code running in swarm worlds with no effect).
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
