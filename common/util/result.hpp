#pragma once

// Expected failures (bad input, network, server refusals) travel as values, not exceptions.

#include <string>
#include <utility>
#include <variant>

namespace osmosis {

struct Error {
  enum class Code {
    kInvalidArgument,  // the caller's input is wrong; retrying will not help
    kUnavailable,      // the peer could not be reached; retry with backoff
    kUnauthenticated,  // credentials missing or refused
    kPermissionDenied,
    kNotFound,
    kAlreadyExists,
    kConflict,  // the request clashes with existing state (e.g. overlapping subjects)
    kTimeout,
    kInternal,
  };
  Code code = Code::kInternal;
  std::string message;
  // When a peer answered: its HTTP status and machine-readable reason (e.g. Kubernetes
  // Status.reason "Conflict", "Expired"), so callers can tell cases apart without parsing text.
  int httpStatus = 0;
  std::string reason;
};

const char* codeName(Error::Code code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Error makeError(Error::Code code, std::string message) {
  return Error{code, std::move(message), 0, {}};
}

inline const char* codeName(Error::Code code) {
  switch (code) {
    case Error::Code::kInvalidArgument:
      return "InvalidArgument";
    case Error::Code::kUnavailable:
      return "Unavailable";
    case Error::Code::kUnauthenticated:
      return "Unauthenticated";
    case Error::Code::kPermissionDenied:
      return "PermissionDenied";
    case Error::Code::kNotFound:
      return "NotFound";
    case Error::Code::kAlreadyExists:
      return "AlreadyExists";
    case Error::Code::kConflict:
      return "Conflict";
    case Error::Code::kTimeout:
      return "Timeout";
    case Error::Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

}  // namespace osmosis
