// The pipe between a VM's process and its mirror (vm_pipe.h): what the mirror's oracle ends up
// knowing, against an oracle told the same things directly, and what it then catches.
#include "sim/real/vm_pipe.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "sim/oracle/truth_image.h"

namespace fvd::sim::real {
namespace {

constexpr uint64_t kSector = 512;

struct Sink final : PipeSink {
  std::vector<std::pair<GuestOp::Kind, uint64_t>> ops;  // kind, latency
  std::vector<uint32_t> phases;
  std::vector<std::string> violations;
  std::optional<ProcessTotals> end;
  void OpDone(const VmOpReport& op) override {
    if (op.ok) ops.emplace_back(op.kind, op.latency_ns);
  }
  void PhaseStarted(uint32_t index, uint64_t) override { phases.push_back(index); }
  void PrefetchProgress(uint64_t now_ns, uint64_t bytes) override {
    prefetch.emplace_back(now_ns, bytes);
  }
  std::vector<std::pair<uint64_t, uint64_t>> prefetch;
  void Violation(const std::string& signature, const std::string& message) override {
    violations.push_back(signature + "|" + message);
  }
  void End(const ProcessTotals& t) override { end = t; }
};

// A guest write's sector values: its tokens, as Vm::DoOp gives them.
std::vector<uint64_t> Tokens(std::initializer_list<uint64_t> tokens) {
  return tokens;
}

uint64_t Zero(uint64_t) {
  return 0;
}

class VmPipe : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::pipe(fds_), 0);
    ::fcntl(fds_[0], F_SETFL, O_NONBLOCK);
  }
  void TearDown() override {
    ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  // Everything the pipe holds, fed to the reader.
  Status Pump(PipeReader& reader) {
    std::byte buf[4096];
    for (;;) {
      const ssize_t n = ::read(fds_[0], buf, sizeof buf);
      if (n <= 0) return Status::Ok();
      if (Status s = reader.Feed(std::span(buf, static_cast<size_t>(n))); !s.ok()) return s;
    }
  }
  int fds_[2] = {-1, -1};
};

TEST_F(VmPipe, TheMirrorKnowsWhatTheVmsOracleKnowsAndCatchesAFlushedWriteLost) {
  TruthImage vm(Zero), mirror(Zero);
  Sink sink;
  PipeReader reader(mirror, sink);
  PipeTap tap(fds_[1]);
  // The VM's side: its oracle first, then the tap, as Vm::DoOp does.
  const auto a = Tokens({0x1111, 0x2222});
  const uint64_t w1 = vm.WriteSubmittedValues(0, a);
  tap.WriteSubmitted(w1, 0, a);
  vm.WriteCompleted(w1);
  tap.WriteCompleted(w1);
  const uint64_t f = vm.FlushSubmitted();
  tap.FlushSubmitted(f);
  vm.FlushCompleted(f);
  tap.FlushCompleted(f);
  const auto b = Tokens({0x3333});
  const uint64_t w2 = vm.WriteSubmittedValues(0, b);  // not flushed: may be lost by a kill
  tap.WriteSubmitted(w2, 0, b);
  tap.OpDone({.bytes = 1024, .latency_ns = 77, .kind = GuestOp::kWrite, .ok = true});
  tap.OpDone({.bytes = 512, .latency_ns = 99, .kind = GuestOp::kRead, .ok = false});
  tap.PhaseStarted(2, 5);
  tap.PrefetchProgress(8, 65536);
  ASSERT_TRUE(Pump(reader).ok());
  EXPECT_EQ(reader.pending(), 0u);
  EXPECT_EQ(sink.ops, (std::vector<std::pair<GuestOp::Kind, uint64_t>>{{GuestOp::kWrite, 77}}));
  EXPECT_EQ(sink.phases, std::vector<uint32_t>{2});
  EXPECT_EQ(sink.prefetch, (std::vector<std::pair<uint64_t, uint64_t>>{{8, 65536}}));

  // After a kill, both oracles allow the same values: the flushed one or the later one for
  // sector 0, only the flushed one for sector 1; the never-written value is caught.
  for (TruthImage* o : {&vm, &mirror}) {
    std::vector<std::string> found;
    o->Recovered(0, 0x3333, found);
    EXPECT_TRUE(found.empty());
    o->Recovered(1, 0x2222, found);
    EXPECT_TRUE(found.empty());
  }
  TruthImage lost(Zero);
  Sink sink2;
  PipeReader reader2(lost, sink2);
  PipeTap tap2(fds_[1]);
  tap2.WriteSubmitted(1, kSector, Tokens({0x4444}));
  tap2.WriteCompleted(1);
  tap2.FlushSubmitted(1);
  tap2.FlushCompleted(1);
  ASSERT_TRUE(Pump(reader2).ok());
  std::vector<std::string> found;
  lost.Recovered(1, 0, found);  // the flushed write did not survive
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find(kFlushedDataLost), std::string::npos) << found[0];
}

TEST_F(VmPipe, ARecordCutByTheKillIsDroppedAndNeverReachesTheOracle) {
  TruthImage mirror(Zero);
  Sink sink;
  PipeReader reader(mirror, sink);
  {
    PipeTap tap(fds_[1]);
    tap.WriteSubmitted(1, 0, Tokens({0x5555}));
  }
  // A second write's record, cut short: its first 20 bytes only.
  int spare[2];
  ASSERT_EQ(::pipe(spare), 0);
  {
    PipeTap tap(spare[1]);
    tap.WriteSubmitted(2, 8 * kSector, Tokens({0x6666}));
  }
  std::byte cut[20];
  ASSERT_EQ(::read(spare[0], cut, sizeof cut), 20);
  ::close(spare[0]);
  ::close(spare[1]);
  ASSERT_EQ(::write(fds_[1], cut, sizeof cut), 20);
  ASSERT_TRUE(Pump(reader).ok());
  EXPECT_EQ(reader.pending(), 20u);
  reader.DropPending();
  EXPECT_TRUE(mirror.Written(0));
  EXPECT_FALSE(mirror.Written(8));
}

TEST_F(VmPipe, IdsThatDisagreeAreAnError) {
  TruthImage mirror(Zero);
  Sink sink;
  PipeReader reader(mirror, sink);
  PipeTap tap(fds_[1]);
  tap.WriteSubmitted(7, 0, Tokens({0x7777}));  // the mirror numbers this write 1
  const Status s = Pump(reader);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("numbered a write 7 where its mirror has 1"), std::string::npos)
      << s.message();
}

TEST_F(VmPipe, ViolationsAndTheTotalsReachTheSink) {
  TruthImage mirror(Zero);
  Sink sink;
  PipeReader reader(mirror, sink);
  PipeTap tap(fds_[1]);
  tap.Violation("read-wrong@guest-read", "vm a at 5 ns: a read returned a value never written");
  ProcessTotals t;
  t.journal_writes = 12;
  t.prefetch_finished_ns = 99;
  tap.End(t);
  ASSERT_TRUE(Pump(reader).ok());
  EXPECT_EQ(sink.violations,
            std::vector<std::string>{"read-wrong@guest-read|vm a at 5 ns: a read returned a value "
                                     "never written"});
  ASSERT_TRUE(sink.end.has_value());
  EXPECT_EQ(sink.end->journal_writes, 12u);
  EXPECT_EQ(sink.end->prefetch_finished_ns, 99);
}

}  // namespace
}  // namespace fvd::sim::real
