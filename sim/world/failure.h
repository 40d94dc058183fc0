// What broke, and where: a failure's signature. A run's violations are sentences for people
// ("vm a at 123 ns: flushed data lost after a crash: sector 9 ..."); its signatures are short
// words for machines, so that `fvdsim explore` groups 300 failing seeds of one bug into one
// line with a count, and `fvdsim minimize` keeps shrinking a run only while it fails the same
// way. A signature is "<what>@<where>", e.g. "lost-flushed-data@check-after-crash":
//
//   what   lost-flushed-data     data acknowledged before a completed flush is gone
//          value-never-written   a sector holds (or a read returned) a value no write put there
//          base-data-wrong       a never-written sector does not read its base data (or zeros)
//          completed-write-lost  at the end, a sector does not read its latest completed write
//          check-corruption      the consistency check finds the metadata corrupt
//          open-failed           the image does not open
//          close-failed          the image does not close cleanly
//          read-back-failed      a check's read of the image fails
//   where  guest-read            a guest's read while the run goes on
//          check-after-crash     the check of every written sector after a crash and recovery
//          reopen-after-crash    the reopen (recovery) after a crash
//          reopen-after-error    the reopen after an injected error stopped metadata writes
//          final-check           the check at the end of the run
//          first-open, close     opening the new image, closing it at the end
//
// `fvdsim explore` adds what only a supervisor sees: "process-crash@<signal or assertion>" and
// "timeout@wall-clock".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fvd::sim {

enum class FailureStage {
  kGuestRead,
  kCheckAfterCrash,
  kReopenAfterCrash,
  kReopenAfterError,
  kFinalCheck,
  kFirstOpen,
  kClose
};

std::string_view StageName(FailureStage stage);

// The signature of an oracle violation (truth_image.h's messages) found at `stage`.
std::string OracleSignature(std::string_view message, FailureStage stage);

// The signature of a failure the VM itself reports ("open-failed", ...) at `stage`.
std::string Signature(std::string_view what, FailureStage stage);

// A run's violations in the order found: the sentence for people, the signature for machines.
struct Violations {
  std::vector<std::string> messages;
  std::vector<std::string> signatures;

  void Add(std::string signature, std::string message) {
    signatures.push_back(std::move(signature));
    messages.push_back(std::move(message));
  }
  size_t size() const { return messages.size(); }
};

}  // namespace fvd::sim
