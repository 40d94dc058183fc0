#include "sim/explore/outcome.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace fvd::sim::explore {
namespace {

ChildResult Exited(int code, std::string out, std::string err = "") {
  ChildResult r;
  r.exit_code = code;
  r.out = std::move(out);
  r.err_tail = std::move(err);
  return r;
}

ChildResult Killed(int sig, std::string err) {
  ChildResult r;
  r.signal = sig;
  r.err_tail = std::move(err);
  return r;
}

constexpr char kPass[] = R"({"digest": "00ab", "events": 12, "violations": [],
  "signature": null, "world": {"features": ["compact", "crashes"]}})";
constexpr char kFail[] = R"({"digest": "00cd", "events": 99,
  "violations": ["vm a at 5 ns: flushed data lost after a crash: sector 1", "vm a at 6 ns: x"],
  "signature": "lost-flushed-data@check-after-crash", "world": {"features": ["crashes"]}})";

TEST(Classify, PassesAndFailuresComeFromTheRunsJson) {
  const Outcome pass = Classify(Exited(0, kPass));
  EXPECT_EQ(pass.verdict, Verdict::kPass);
  EXPECT_EQ(pass.signature, "");
  EXPECT_EQ(pass.events, 12u);
  EXPECT_EQ(pass.features, (std::vector<std::string>{"compact", "crashes"}));
  const Outcome fail = Classify(Exited(1, kFail));
  EXPECT_EQ(fail.verdict, Verdict::kFail);
  EXPECT_EQ(fail.signature, "lost-flushed-data@check-after-crash");
  EXPECT_EQ(fail.message, "vm a at 5 ns: flushed data lost after a crash: sector 1");
  EXPECT_EQ(fail.digest, "00cd");
}

TEST(Classify, ACrashedProcessSaysWhereItDied) {
  const Outcome assertion = Classify(Killed(
      SIGABRT, "progress...\nfvdsim: sim/world/vm.cc:212: void fvd::sim::Vm::Crash(): Assertion "
               "`crashes_possible_' failed.\n"));
  EXPECT_EQ(assertion.verdict, Verdict::kProcessCrash);
  EXPECT_EQ(assertion.signature, "process-crash@assert vm.cc:212");
  const Outcome asan = Classify(Killed(
      0, "==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n"));
  EXPECT_EQ(asan.signature, "process-crash@AddressSanitizer heap-use-after-free");
  const Outcome uncaught = Classify(Killed(
      SIGABRT, "terminate called after throwing an instance of 'std::bad_alloc'\n  what(): x\n"));
  EXPECT_EQ(uncaught.signature, "process-crash@uncaught std::bad_alloc");
  const Outcome segv = Classify(Killed(SIGSEGV, ""));
  EXPECT_EQ(segv.signature, "process-crash@SIGSEGV");
  EXPECT_FALSE(segv.message.empty());
  // Exit 1 without the JSON it promises is a crash too, not a pass.
  EXPECT_EQ(Classify(Exited(1, "garbage")).verdict, Verdict::kProcessCrash);
  EXPECT_EQ(Classify(Exited(0, "")).verdict, Verdict::kProcessCrash);
}

TEST(Classify, TimeoutsAndRefusedWorlds) {
  ChildResult hung = Killed(SIGKILL, "");
  hung.timed_out = true;
  EXPECT_EQ(Classify(hung).signature, "timeout@wall-clock");
  EXPECT_EQ(Classify(hung).verdict, Verdict::kTimeout);
  const Outcome refused = Classify(Exited(2, "", "fvdsim: w.yaml: creating the image: bad\n"));
  EXPECT_EQ(refused.verdict, Verdict::kRefused);
  EXPECT_EQ(refused.message, "fvdsim: w.yaml: creating the image: bad");
}

TEST(ReproduceCommand, NamesEverythingTheRunNeeds) {
  EXPECT_EQ(ReproduceCommand("w.yaml", 7, true, "", ""), "fvdsim run w.yaml --seed 7 --swarm");
  EXPECT_EQ(ReproduceCommand("w.yaml", 7, false, "5s", "cor_skips_recheck"),
            "fvdsim_testbugs run w.yaml --seed 7 --max-time 5s --bug cor_skips_recheck");
}

}  // namespace
}  // namespace fvd::sim::explore
