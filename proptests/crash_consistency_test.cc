// Crash consistency as RapidCheck properties (issue 6): for random sequences of guest
// operations, concurrent batches, background work, clean reopens and crashes at random points,
// the image never loses what a completed flush promised and never returns data that was never
// written (the oracle of ARCHITECTURE.md, applied by proptests/harness.h).
//
// Budgets (proptests/main.cc): 1000 sequences per property from a fixed seed in CI; with
// FVD_PROPTEST_BUDGET=nightly, 100 times more. RC_PARAMS overrides both, and every failure
// prints the RC_PARAMS that reproduce it.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <chrono>
#include <iostream>
#include <sstream>

#include "proptests/harness.h"

namespace fvd::proptest {
namespace {

// The model is the oracle inside the harness; the generators need only the disk's shape.
struct Model {};
using Command = rc::state::Command<Model, Harness>;

rc::Gen<uint64_t> Count() {
  return rc::gen::element<uint64_t>(1, 1, 2, 3, 8, 8, 9, 16, 64, 130);
}

// An operation anywhere on the disk; more often near a few hot spots, so requests collide.
rc::Gen<GuestOp> Op() {
  return rc::gen::exec([] {
    GuestOp op;
    const int kind = *rc::gen::inRange(0, 10);
    op.kind = kind < 5 ? GuestOp::kWrite : kind < 9 ? GuestOp::kRead : GuestOp::kFlush;
    op.count = *Count();
    const bool hot = *rc::gen::inRange(0, 3) > 0;
    const uint64_t limit = Harness::kSectors - op.count;
    // Hot spots: the disk's start, a block boundary, the base's end (sector 1536), and
    // block-aligned spots, where whole-block writes skip the base read.
    const uint64_t spot = *rc::gen::element<uint64_t>(0, 6, 130, 1530, 1536, 1600);
    const uint64_t jitter = *rc::gen::element<uint64_t>(0, 0, 8, 1, 3, 13);
    op.sector =
        hot ? std::min<uint64_t>(limit, spot + jitter) : *rc::gen::inRange<uint64_t>(0, limit + 1);
    op.data_seed = *rc::gen::arbitrary<uint64_t>();
    op.delay_events = *rc::gen::element<uint64_t>(0, 0, 0, 1, 3, 10, 40);
    return op;
  });
}

// Operations to run at once; writes that overlap an earlier write of the batch are dropped
// (the oracle assumes one write per sector in flight).
rc::Gen<std::vector<GuestOp>> BatchOps(int max) {
  return rc::gen::map(rc::gen::container<std::vector<GuestOp>>(
                          static_cast<size_t>(*rc::gen::inRange(1, max + 1)), Op()),
                      [](std::vector<GuestOp> ops) {
                        std::vector<GuestOp> out;
                        for (const GuestOp& op : ops) {
                          bool clash = false;
                          for (const GuestOp& w : out) {
                            clash |= op.kind == GuestOp::kWrite && w.kind == GuestOp::kWrite &&
                                     op.sector < w.sector + w.count &&
                                     w.sector < op.sector + op.count;
                          }
                          if (!clash) out.push_back(op);
                        }
                        return out;
                      });
}

void Show(std::ostream& os, const std::vector<GuestOp>& ops) {
  static const char* kNames[] = {"read", "write", "flush"};
  os << "[";
  for (const GuestOp& op : ops) {
    os << " " << kNames[op.kind];
    if (op.kind != GuestOp::kFlush) os << "(" << op.sector << ",+" << op.count << ")";
  }
  os << " ]";
}

void AssertClean(const Harness& h) {
  if (!h.violations().empty()) {
    std::ostringstream msg;
    for (const std::string& v : h.violations()) msg << v << "\n";
    RC_FAIL(msg.str());
  }
}

struct Sequential : Command {
  GuestOp op = *Op();
  void run(const Model&, Harness& h) const override {
    h.Batch({op});
    AssertClean(h);
  }
  void show(std::ostream& os) const override { Show(os, {op}); }
};

struct Concurrent : Command {
  std::vector<GuestOp> ops = *BatchOps(8);
  void run(const Model&, Harness& h) const override {
    h.Batch(ops);
    AssertClean(h);
  }
  void show(std::ostream& os) const override {
    os << "batch";
    Show(os, ops);
  }
};

struct Idle : Command {
  uint64_t ms = *rc::gen::element<uint64_t>(1, 20, 100, 1200);
  void run(const Model&, Harness& h) const override {
    h.Idle(ms);
    AssertClean(h);
  }
  void show(std::ostream& os) const override { os << "idle " << ms << "ms"; }
};

// A crash `events` loop events into a batch of operations (`ops`, which the subclass draws).
struct CrashCommand : Command {
  CrashCommand(std::vector<GuestOp> o, uint64_t max_events)
      : ops(std::move(o)), events(*rc::gen::inRange<uint64_t>(0, max_events)) {}
  std::vector<GuestOp> ops;
  uint64_t events;
  uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  void run(const Model&, Harness& h) const override {
    h.CrashAndRecover(ops, events, seed);
    AssertClean(h);
  }
  void show(std::ostream& os) const override {
    os << "crash after " << events << " events of";
    Show(os, ops);
  }
};

struct Crash : CrashCommand {
  Crash() : CrashCommand(*BatchOps(6), 60) {}
};

// Small writes into different sectors of the same 4 KiB block, a read and a flush, each a few
// events after the one before.
rc::Gen<std::vector<GuestOp>> OneBlockOps() {
  return rc::gen::exec([] {
    // Mostly a block of the base range, so that its first write takes the slow path.
    const uint64_t block = *rc::gen::inRange(0, 4) == 0
                               ? *rc::gen::element<uint64_t>(0, 1528, 1536, 1600)
                               : 8 * *rc::gen::inRange<uint64_t>(0, Harness::kBaseBytes / 4096);
    std::vector<GuestOp> out;
    uint64_t next = 0;
    while (next < 8) {
      GuestOp w;
      w.kind = GuestOp::kWrite;
      w.sector = block + next + *rc::gen::inRange<uint64_t>(0, 2);
      if (w.sector >= block + 8) break;
      w.count = std::min<uint64_t>(*rc::gen::inRange<uint64_t>(1, 4), block + 8 - w.sector);
      w.data_seed = *rc::gen::arbitrary<uint64_t>();
      w.delay_events = *rc::gen::inRange<uint64_t>(0, 5);
      out.push_back(w);
      next = w.sector + w.count - block;
    }
    GuestOp r{GuestOp::kRead, block, 8, 0, *rc::gen::inRange<uint64_t>(0, 5)};
    out.push_back(r);
    GuestOp f{GuestOp::kFlush, 0, 1, 0, *rc::gen::inRange<uint64_t>(0, 6)};
    out.push_back(f);
    return out;
  });
}

// A crash over one block: where the ordering between a slow-path write, in-place writes that
// follow it, copy-on-read and the journal is decided.
struct CrashInOneBlock : CrashCommand {
  CrashInOneBlock() : CrashCommand(*OneBlockOps(), 12) {}
};

// An I/O error at a named fault point, then a power failure: requests fail cleanly or the
// image refuses writes, and recovery loses nothing a completed flush promised.
struct Fault : Command {
  FaultPoint point = static_cast<FaultPoint>(*rc::gen::inRange(0, kFaultPoints));
  uint64_t skip = *rc::gen::inRange<uint64_t>(0, 4);
  std::vector<GuestOp> ops = *BatchOps(6);
  uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  void run(const Model&, Harness& h) const override {
    h.FaultAndRecover(point, skip, ops, seed);
    AssertClean(h);
  }
  void show(std::ostream& os) const override {
    os << "fault at " << FaultPointName(point) << " (after " << skip << ") during";
    Show(os, ops);
  }
};

struct DamageJournal : Command {
  uint64_t count = *rc::gen::inRange<uint64_t>(1, 6);
  uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  void run(const Model&, Harness& h) const override {
    h.DamageJournalAndRecover(count, seed);
    AssertClean(h);
  }
  void show(std::ostream& os) const override {
    os << "damage " << count << " journal sectors (seed " << seed << ")";
  }
};

// `fvd-img update` while the image is closed: copy-on-read and prefetch on or off.
struct Update : Command {
  bool copy_on_read = *rc::gen::arbitrary<bool>();
  int32_t prefetch_start_delay = *rc::gen::element<int32_t>(-1, 1);
  void run(const Model&, Harness& h) const override {
    h.UpdateAndReopen(copy_on_read, prefetch_start_delay);
    AssertClean(h);
  }
  void show(std::ostream& os) const override {
    os << "update copy_on_read=" << copy_on_read
       << " prefetch_start_delay=" << prefetch_start_delay;
  }
};

struct Reopen : Command {
  void run(const Model&, Harness& h) const override {
    h.Reopen();
    AssertClean(h);
  }
  void show(std::ostream& os) const override { os << "reopen"; }
};

// The property for one configuration: any command sequence keeps the oracle satisfied. Adds
// the states checked to `states`.
void CrashConsistent(const ImageConfig& config, uint64_t& states) {
  const uint64_t seed = *rc::gen::inRange<uint64_t>(1, 1u << 30);
  Harness h(config, seed);
  AssertClean(h);
  rc::state::check(
      Model{}, h,
      rc::state::gen::execOneOfWithArgs<Sequential, Sequential, Concurrent, Concurrent, Idle, Crash,
                                        CrashInOneBlock, Fault, DamageJournal, Update, Reopen>());
  states += h.states();
  RC_TAG(h.crashes() > 0 ? "crashed" : "no crash");
}

class CrashConsistency : public ::testing::TestWithParam<ImageConfig> {};

TEST_P(CrashConsistency, AnySequenceOfOperationsAndCrashes) {
  const ImageConfig config = GetParam();
  uint64_t states = 0;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(rc::check(config.Name(), [&] { CrashConsistent(config, states); }));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << config.Name() << ": " << states << " states checked in " << secs << " s ("
            << static_cast<uint64_t>(static_cast<double>(states) / secs) << " per second)\n";
  RecordProperty("states", std::to_string(states));
}

INSTANTIATE_TEST_SUITE_P(AllConfigs, CrashConsistency, ::testing::ValuesIn(AllConfigs()),
                         [](const auto& p) { return p.param.Name(); });

// Each deliberate bug of core/image/test_bugs.h must make the property fail.
struct BugCase {
  const char* name;
  bool TestBugs::*flag;
  ImageConfig config;
};

ImageConfig With(bool buffered, bool compact, bool cor) {
  ImageConfig c;
  c.buffered = buffered;
  c.compact = compact;
  c.copy_on_read = cor;
  return c;
}

class DeliberateBug : public ::testing::TestWithParam<BugCase> {};

TEST_P(DeliberateBug, IsCaught) {
  ImageConfig config = GetParam().config;
  config.bugs.*(GetParam().flag) = true;
  uint64_t states = 0;
  EXPECT_FALSE(rc::check(std::string("bug ") + GetParam().name + " is caught",
                         [&] { CrashConsistent(config, states); }))
      << "the property suite did not catch the deliberate bug " << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Bugs, DeliberateBug,
    ::testing::Values(
        BugCase{"skip_data_flush_before_journal", &TestBugs::skip_data_flush_before_journal,
                With(true, false, false)},
        BugCase{"stale_before_journal", &TestBugs::stale_before_journal, With(false, false, false)},
        BugCase{"replay_stale_epoch", &TestBugs::replay_stale_epoch, With(true, true, false)},
        BugCase{"cor_ignores_write_lock", &TestBugs::cor_ignores_write_lock,
                With(true, false, true)},
        BugCase{"cor_skips_recheck", &TestBugs::cor_skips_recheck, With(true, false, true)}),
    [](const auto& p) { return std::string(p.param.name); });

// The journal-damage property decides what recovery must ignore with its own model of the
// format. With a decoder that is wrong on purpose (it ignores the epoch) deciding instead, the
// harness would never plant the stale sectors that expose replay_stale_epoch, and the broken
// engine would pass: the property must catch the bug only with its own model.
TEST(JournalDamage, OnlyTheHarnessesOwnModelExposesABugAWrongDecoderShares) {
  ImageConfig config = With(true, true, false);
  config.bugs.replay_stale_epoch = true;
  uint64_t states = 0;
  EXPECT_FALSE(rc::check("stale epochs are planted", [&] { CrashConsistent(config, states); }))
      << "the damage property missed replay_stale_epoch";
  config.damage_with_epochless_decoder = true;
  EXPECT_TRUE(rc::check("a decoder that ignores epochs plants none", [&] {
    CrashConsistent(config, states);
  })) << "with the wrong decoder deciding, the harness should have planted no stale sector";
}

}  // namespace
}  // namespace fvd::proptest
