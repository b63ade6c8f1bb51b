#pragma once
// Status and Result<T>: how anything that can fail for reasons outside the
// program (I/O, a server, corrupt bytes, bad config) reports it. Exceptions
// are reserved for programmer errors.

#include <cassert>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace sluice {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // bad user input: URL, option, config
  kCorruption,       // bytes that do not follow the format
  kNotSupported,     // valid input we cannot handle
  kIoError,          // network or file failure
  kServerError,      // the server answered with an error
  kSchemaMismatch,   // the stream disagrees with the known schema
  kNotFound,
  kEndOfStream,      // a finite source has no more data
  kCancelled,
  kAborted,          // a transaction lost a lock conflict (deadlock, lock wait timeout): retry it
  kFenced,           // a newer owner of the pipeline (higher epoch) took over the target: never retried
  kSourceChanged,    // the source's binlog is not the one a position was taken on (a failover): never retried
  kTargetRewound,    // a target holds less than it had committed (restored, or lost commits): start again from it
};

// An OK status is one null pointer: decoders return one per column value,
// so success must cost nothing; an error's code and message live on the heap.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(const Status& o) : rep_(o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr) {}
  Status& operator=(const Status& o) {
    if (this != &o) rep_ = o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  static Status Ok() { return Status(); }

  template <typename... Args>
  static Status Error(StatusCode code, fmt::format_string<Args...> f, Args&&... args) {
    return Status(code, fmt::format(f, std::forward<Args>(args)...), false);
  }
  template <typename... Args>
  static Status Retryable(StatusCode code, fmt::format_string<Args...> f, Args&&... args) {
    return Status(code, fmt::format(f, std::forward<Args>(args)...), true);
  }
  template <typename... Args>
  static Status Corruption(fmt::format_string<Args...> f, Args&&... args) {
    return Status(StatusCode::kCorruption, fmt::format(f, std::forward<Args>(args)...), false);
  }
  template <typename... Args>
  static Status Invalid(fmt::format_string<Args...> f, Args&&... args) {
    return Status(StatusCode::kInvalidArgument, fmt::format(f, std::forward<Args>(args)...), false);
  }
  static Status EndOfStream() { return Status(StatusCode::kEndOfStream, "end of stream", false); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  bool retryable() const { return rep_ && rep_->retryable; }
  const std::string& message() const {
    static const std::string kNoMessage;
    return rep_ ? rep_->message : kNoMessage;
  }

  // Prefixes context, e.g. "decode rows: " + message.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(rep_->code, fmt::format("{}: {}", context, rep_->message), rep_->retryable);
  }
  Status WithSuffix(std::string_view suffix) const {
    if (ok()) return *this;
    return Status(rep_->code, fmt::format("{} {}", rep_->message, suffix), rep_->retryable);
  }

 private:
  struct Rep {
    StatusCode code;
    bool retryable;
    std::string message;
  };
  Status(StatusCode code, std::string message, bool retryable)
      : rep_(code == StatusCode::kOk ? nullptr : std::make_unique<Rep>(Rep{code, retryable, std::move(message)})) {}

  std::unique_ptr<Rep> rep_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    ::sluice::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(_res_, __LINE__), lhs, expr)

}  // namespace sluice
