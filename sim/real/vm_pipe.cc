#include "sim/real/vm_pipe.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "sim/oracle/truth_image.h"

namespace fvd::sim::real {
namespace {

enum RecordKind : uint8_t {
  kWriteSubmitted = 1,  // a = id, b = offset; tail: each sector's value
  kWriteCompleted,      // a = id
  kWriteFailed,         // a = id
  kFlushSubmitted,      // a = id
  kFlushCompleted,      // a = id
  kFlushFailed,         // a = id
  kOpDone,              // tail: VmOpReport
  kPhaseStarted,        // a = index, b = when
  kViolation,           // a = the signature's length; tail: signature, then message
  kEnd,                 // tail: ProcessTotals
  kPrefetchProgress,    // a = when, b = bytes copied by this life
};

struct RecordHeader {
  uint8_t kind;
  uint8_t pad[7];
  uint64_t a, b;
  uint64_t tail_bytes;
};
static_assert(std::is_trivially_copyable_v<RecordHeader>);
static_assert(std::is_trivially_copyable_v<ProcessTotals>);
static_assert(std::is_trivially_copyable_v<VmOpReport>);

// A record's tail as the one struct it carries.
template <typename T>
Status TailAs(std::span<const std::byte> tail, T& out, const char* record) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (tail.size() != sizeof out) {
    return Status::Internal(std::string("a VM's ") + record + " record has the wrong size");
  }
  std::memcpy(&out, tail.data(), sizeof out);
  return Status::Ok();
}

}  // namespace

void PipeTap::Send(uint8_t kind, uint64_t a, uint64_t b, std::span<const std::byte> tail) {
  RecordHeader h{};
  h.kind = kind;
  h.a = a;
  h.b = b;
  h.tail_bytes = tail.size();
  out_.resize(sizeof h + tail.size());
  std::memcpy(out_.data(), &h, sizeof h);
  if (!tail.empty()) std::memcpy(out_.data() + sizeof h, tail.data(), tail.size());
  const std::byte* at = out_.data();
  size_t left = out_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);  // the parent is gone: nobody to run for
    at += n;
    left -= static_cast<size_t>(n);
  }
}

void PipeTap::WriteSubmitted(uint64_t id, uint64_t offset, std::span<const uint64_t> values) {
  Send(kWriteSubmitted, id, offset, std::as_bytes(values));
}
void PipeTap::WriteCompleted(uint64_t id) {
  Send(kWriteCompleted, id, 0, {});
}
void PipeTap::WriteFailed(uint64_t id) {
  Send(kWriteFailed, id, 0, {});
}
void PipeTap::FlushSubmitted(uint64_t id) {
  Send(kFlushSubmitted, id, 0, {});
}
void PipeTap::FlushCompleted(uint64_t id) {
  Send(kFlushCompleted, id, 0, {});
}
void PipeTap::FlushFailed(uint64_t id) {
  Send(kFlushFailed, id, 0, {});
}

void PipeTap::OpDone(const VmOpReport& op) {
  Send(kOpDone, 0, 0, std::as_bytes(std::span(&op, 1)));
}

void PipeTap::PrefetchProgress(uint64_t now_ns, uint64_t bytes) {
  Send(kPrefetchProgress, now_ns, bytes, {});
}

void PipeTap::PhaseStarted(uint32_t index, uint64_t now_ns) {
  Send(kPhaseStarted, index, now_ns, {});
}

void PipeTap::Violation(const std::string& signature, const std::string& message) {
  const std::string both = signature + message;
  Send(kViolation, signature.size(), 0, std::as_bytes(std::span(both.data(), both.size())));
}

void PipeTap::End(const ProcessTotals& totals) {
  Send(kEnd, 0, 0, std::as_bytes(std::span(&totals, 1)));
}

Status PipeReader::Feed(std::span<const std::byte> bytes) {
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  size_t at = 0;
  while (buf_.size() - at >= sizeof(RecordHeader)) {
    RecordHeader h;
    std::memcpy(&h, buf_.data() + at, sizeof h);
    if (buf_.size() - at - sizeof h < h.tail_bytes) break;
    const std::span<const std::byte> tail(buf_.data() + at + sizeof h, h.tail_bytes);
    const Status s = Apply(h.kind, h.a, h.b, tail);
    at += sizeof h + h.tail_bytes;
    if (!s.ok()) {
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(at));
      return s;
    }
  }
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(at));
  return Status::Ok();
}

Status PipeReader::Apply(uint8_t kind, uint64_t a, uint64_t b, std::span<const std::byte> tail) {
  const auto same = [](const char* what, uint64_t theirs, uint64_t ours) {
    return theirs == ours ? Status::Ok()
                          : Status::Internal(std::string("the VM's process numbered a ") + what +
                                             " " + std::to_string(theirs) +
                                             " where its mirror has " + std::to_string(ours));
  };
  switch (kind) {
    case kWriteSubmitted: {
      values_.resize(tail.size() / sizeof(uint64_t));
      std::memcpy(values_.data(), tail.data(), values_.size() * sizeof(uint64_t));
      return same("write", a, oracle_.WriteSubmittedValues(b, values_));
    }
    case kWriteCompleted:
      oracle_.WriteCompleted(a);
      return Status::Ok();
    case kWriteFailed:
      oracle_.WriteFailed(a);
      return Status::Ok();
    case kFlushSubmitted:
      return same("flush", a, oracle_.FlushSubmitted());
    case kFlushCompleted:
      oracle_.FlushCompleted(a);
      return Status::Ok();
    case kFlushFailed:
      oracle_.FlushFailed(a);
      return Status::Ok();
    case kOpDone: {
      VmOpReport op;
      FVD_RETURN_IF_ERROR(TailAs(tail, op, "op"));
      sink_.OpDone(op);
      return Status::Ok();
    }
    case kPrefetchProgress:
      sink_.PrefetchProgress(a, b);
      return Status::Ok();
    case kPhaseStarted:
      sink_.PhaseStarted(static_cast<uint32_t>(a), b);
      return Status::Ok();
    case kViolation: {
      const std::string both(reinterpret_cast<const char*>(tail.data()), tail.size());
      sink_.Violation(both.substr(0, a), both.substr(std::min<size_t>(a, both.size())));
      return Status::Ok();
    }
    case kEnd: {
      ProcessTotals t;
      FVD_RETURN_IF_ERROR(TailAs(tail, t, "end"));
      sink_.End(t);
      return Status::Ok();
    }
    default:
      return Status::Internal("a VM's process sent a record of unknown kind " +
                              std::to_string(kind));
  }
}

}  // namespace fvd::sim::real
