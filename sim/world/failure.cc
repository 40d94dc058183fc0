#include "sim/world/failure.h"

#include <array>
#include <utility>

#include "sim/oracle/truth_image.h"

namespace fvd::sim {

std::string_view StageName(FailureStage stage) {
  switch (stage) {
    case FailureStage::kGuestRead:
      return "guest-read";
    case FailureStage::kCheckAfterCrash:
      return "check-after-crash";
    case FailureStage::kReopenAfterCrash:
      return "reopen-after-crash";
    case FailureStage::kReopenAfterError:
      return "reopen-after-error";
    case FailureStage::kFinalCheck:
      return "final-check";
    case FailureStage::kFirstOpen:
      return "first-open";
    case FailureStage::kClose:
      return "close";
  }
  return "unknown";
}

std::string Signature(std::string_view what, FailureStage stage) {
  return std::string(what) + "@" + std::string(StageName(stage));
}

std::string OracleSignature(std::string_view message, FailureStage stage) {
  static const std::array<std::pair<std::string_view, std::string_view>, 5> kKinds = {{
      {kReadNeverWritten, "value-never-written"},
      {kReadNotBase, "base-data-wrong"},
      {kFlushedDataLost, "lost-flushed-data"},
      {kHoldsNeverWritten, "value-never-written"},
      {kCompletedWriteLost, "completed-write-lost"},
  }};
  for (const auto& [prefix, what] : kKinds) {
    if (message.substr(0, prefix.size()) == prefix) return Signature(what, stage);
  }
  return Signature("oracle", stage);
}

}  // namespace fvd::sim
