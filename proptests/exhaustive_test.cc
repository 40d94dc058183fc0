// Exhaustive small histories (in the manner of CrashMonkey and Chipmunk): for short workloads,
// every crash point and every combination of what the crash keeps of the writes not yet
// durable (survive, lost, torn with the old/new choice of its first sectors), instead of
// sampling them. Each combination replays the workload from scratch (the world is
// deterministic), crashes, recovers and applies the oracle's checks (proptests/harness.h).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <vector>

#include "proptests/harness.h"

namespace fvd::proptest {
namespace {

// Enumerates a crash's choices depth first: each call to Choose takes the current value of
// its position on the path; Next() advances the last position that has alternatives left.
// Beyond the first kEnumeratedCoins sector coins of a crash, a torn write keeps its sectors
// old: the torn variants of a write's first sectors are all tried, the rest are not.
class EnumeratingChooser final : public sim::CrashChooser {
 public:
  static constexpr int kEnumeratedCoins = 4;

  uint64_t Choose(uint64_t n) override {
    if (n == 2 && coins_++ >= kEnumeratedCoins) return 1;  // "old"
    if (depth_ == path_.size()) path_.push_back({0, n});
    return path_[depth_++].value;
  }
  // Moves to the next combination; false once every one was tried.
  bool Next() {
    path_.resize(depth_);
    depth_ = 0;
    coins_ = 0;
    while (!path_.empty()) {
      if (++path_.back().value < path_.back().n) return true;
      path_.pop_back();
    }
    return false;
  }

 private:
  struct Choice {
    uint64_t value, n;
  };
  std::vector<Choice> path_;
  size_t depth_ = 0;
  int coins_ = 0;
};

GuestOp W(uint64_t sector, uint64_t count, uint64_t delay = 0) {
  return {GuestOp::kWrite, sector, count, sector * 1000 + count, delay};
}
GuestOp R(uint64_t sector, uint64_t count, uint64_t delay = 0) {
  return {GuestOp::kRead, sector, count, 0, delay};
}
GuestOp F(uint64_t delay = 0) {
  return {GuestOp::kFlush, 0, 1, 0, delay};
}

// Copy-on-write to 15 blocks, far enough apart that each record goes out in a journal sector
// of its own: 15 of the 8 KiB journal's 16 sectors are used when the window starts, so the
// window's second write-out recycles the journal while its records are not yet written.
std::vector<GuestOp> FillJournal() {
  std::vector<GuestOp> ops;
  for (uint64_t i = 0; i < 15; ++i) {
    ops.push_back(W(i * 8, 8, 30));
    ops.push_back(F(30));
  }
  return ops;
}

struct History {
  const char* name;
  std::vector<GuestOp> setup;  // run to completion (and flushed) before the crash window
  std::vector<GuestOp> ops;    // the window: submitted, then the crash after k events
};

std::vector<History> Histories() {
  // Up to 8 operations each; delays (in loop events) interleave them with each other's I/O.
  return {
      {"allocating_then_in_place",
       {},
       {W(0, 1), W(3, 2, 2), F(4), W(5, 1, 1), W(6, 2, 1), F(2), W(0, 1, 1), R(0, 8)}},
      {"two_blocks_and_flush",
       {},
       {W(8, 8), W(16, 1), F(1), W(17, 1, 2), W(24, 16, 1), F(3), W(30, 1), W(9, 1, 2)}},
      {"over_written_after_flush",
       {W(0, 8), F()},
       {W(1, 1), F(1), W(1, 2, 1), R(0, 8), W(2, 1, 2), F(1), W(1, 1, 1)}},
      {"read_copies_while_writing",
       {R(40, 8)},
       {W(41, 1), R(40, 16), W(48, 1, 1), F(2), R(56, 8), W(57, 1, 1), F(1)}},
      {"past_the_base",
       {},
       {W(1536, 2), W(1600, 1), F(1), W(1537, 1), W(1528, 16, 1), F(2), W(1530, 1)}},
      {"recycle_with_records_in_flight",
       FillJournal(),
       {W(130, 8), F(20), W(260, 8, 20), F(20), W(400, 1, 20), F(20)}},
      {"chunk_boundary",
       {},
       {W(120, 16), W(126, 1, 1), F(2), W(136, 1), W(128, 1, 3), F(1), R(120, 16)}},
  };
}

// Overlays with copy-on-read: compact or not, buffered or unbuffered journal.
std::vector<ImageConfig> ExhaustiveConfigs() {
  std::vector<ImageConfig> out;
  for (const bool compact : {false, true}) {
    for (const bool buffered : {true, false}) {
      ImageConfig c;
      c.compact = compact;
      c.buffered = buffered;
      c.copy_on_read = true;
      out.push_back(c);
    }
  }
  return out;
}

class Exhaustive : public ::testing::TestWithParam<ImageConfig> {};

// Runs every history at every crash point with every fate; returns the first violation.
std::string Explore(const ImageConfig& config, uint64_t& states, uint64_t& crashes) {
  for (const History& hist : Histories()) {
    Harness dry(config, 7);
    dry.Batch(hist.setup);
    dry.Batch({F()});
    const uint64_t events = dry.RunToCompletion(hist.ops);
    if (!dry.violations().empty()) return dry.violations().front();
    for (uint64_t k = 0; k <= events; ++k) {
      EnumeratingChooser chooser;
      do {
        Harness h(config, 7);
        h.Batch(hist.setup);
        h.Batch({F()});
        h.CrashAndRecover(hist.ops, k, chooser, k);
        ++crashes;
        states += h.states();
        if (!h.violations().empty()) {
          return std::string(hist.name) + ", crash after " + std::to_string(k) +
                 " events: " + h.violations().front();
        }
      } while (chooser.Next());
    }
  }
  return "";
}

TEST(ExhaustiveBugs, SkippingTheDataFlushBeforeTheJournalIsCaught) {
  ImageConfig config;
  config.bugs.skip_data_flush_before_journal = true;
  uint64_t states = 0, crashes = 0;
  EXPECT_NE(Explore(config, states, crashes), "");
}

TEST_P(Exhaustive, EveryCrashPointAndEveryFateOfUnflushedWrites) {
  const ImageConfig config = GetParam();
  const auto start = std::chrono::steady_clock::now();
  uint64_t states = 0, crashes = 0;
  const std::string violation = Explore(config, states, crashes);
  EXPECT_EQ(violation, "");
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << config.Name() << ": " << crashes << " crashes (every crash point and fate) over "
            << Histories().size() << " histories, " << states << " states in " << secs << " s ("
            << static_cast<uint64_t>(static_cast<double>(states) / secs) << " per second)\n";
  RecordProperty("crashes", std::to_string(crashes));
}

INSTANTIATE_TEST_SUITE_P(Small, Exhaustive, ::testing::ValuesIn(ExhaustiveConfigs()),
                         [](const auto& p) { return p.param.Name(); });

}  // namespace
}  // namespace fvd::proptest
