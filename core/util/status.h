// Errors as values. Every fallible call in core/ returns a Status or a Result<T>; no exception
// crosses the seam. Both are [[nodiscard]]: ignoring the outcome of a metadata write is a bug
// the compiler should catch.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace fvd {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller asked for something impossible (bad option, bad range)
  kCorruption,       // on-disk bytes fail validation (bad magic, checksum, overlap, ...)
  kIoError,          // the device failed a read, write or flush
  kNotFound,         // a named file or object does not exist
  kNoSpace,          // storage could not grow
  kReadOnly,         // a write was refused (read-only open, metadata-error state)
  kUnsupported,      // valid but not implemented by this build or device
  kBusy,             // try again later (queue full)
  kInternal,         // a broken invariant of ours
  kRefused,          // the opener's policy does not allow it (an image from elsewhere)
  kTooLarge,         // it would need more memory than the opener allows
};

// Name of a code ("corruption", "I/O error", ...) for messages.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {StatusCode::kReadOnly, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Refused(std::string m) { return {StatusCode::kRefused, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corruption: header field 'magic' at offset 0: expected 0x5143f5a9, found 0x0"
  std::string ToString() const;

  // A copy whose message is prefixed with `context: ` (keeps the code).
  Status WithContext(std::string_view context) const;

  // Explicitly drop a status whose failure is handled elsewhere (say why at the call site).
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace fvd

#define FVD_CONCAT_INNER(a, b) a##b
#define FVD_CONCAT(a, b) FVD_CONCAT_INNER(a, b)

// Return the Status of `expr` from the enclosing function when it is not OK.
#define FVD_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::fvd::Status fvd_status_ = (expr);        \
    if (!fvd_status_.ok()) return fvd_status_; \
  } while (0)

// `lhs = value of expr`, or return its Status from the enclosing function.
#define FVD_ASSIGN_OR_RETURN(lhs, expr) \
  FVD_ASSIGN_OR_RETURN_IMPL(FVD_CONCAT(fvd_result_, __LINE__), lhs, expr)
#define FVD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
