#pragma once

// Kubernetes API errors: a failed request's Status object becomes an osmosis::Error that keeps
// the HTTP status, the Status reason and, for Invalid, the field causes in its message.

#include <string>

#include "common/util/result.hpp"

namespace osmosis::kube {

// Pure: decode a non-2xx response. `body` is usually a Status object, but proxies and
// crashes can send anything; that still gives a useful error.
Error apiError(int httpStatus, const std::string& body, const std::string& doing);

// A transport-level failure (no HTTP answer at all).
Error connectionError(const std::string& what, const std::string& doing);

inline bool isNotFound(const Error& e) {
  return e.httpStatus == 404 || e.reason == "NotFound";
}
inline bool isAlreadyExists(const Error& e) {
  return e.reason == "AlreadyExists";
}
inline bool isConflict(const Error& e) {
  return e.httpStatus == 409 && e.reason != "AlreadyExists";
}
inline bool isInvalid(const Error& e) {
  return e.httpStatus == 422 || e.reason == "Invalid";
}
inline bool isForbidden(const Error& e) {
  return e.httpStatus == 403 || e.reason == "Forbidden";
}
inline bool isUnauthorized(const Error& e) {
  return e.httpStatus == 401;
}
inline bool isGone(const Error& e) {
  return e.httpStatus == 410 || e.reason == "Expired" || e.reason == "Gone";
}
inline bool isTooManyRequests(const Error& e) {
  return e.httpStatus == 429 || e.reason == "TooManyRequests";
}
// Worth retrying with backoff: the server was busy, failing or unreachable.
inline bool isRetryable(const Error& e) {
  return e.httpStatus == 429 || e.httpStatus >= 500 ||
         (e.httpStatus == 0 && e.code == Error::Code::kUnavailable);
}

}  // namespace osmosis::kube
