// Deliberate bugs, for tests that prove the checks catch them (the simulator's oracle, the
// property tests). They exist only in test builds: FVD_TEST_BUGS is defined by the
// *_testbugs libraries (core/CMakeLists.txt), never by the shipped ones.
#pragma once

#ifdef FVD_TEST_BUGS
#define FVD_IF_TEST_BUG(flag) (options.bugs.flag)
#else
#define FVD_IF_TEST_BUG(flag) false
#endif

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

}  // namespace fvd
