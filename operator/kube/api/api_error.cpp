#include "operator/kube/api/api_error.hpp"

#include <nlohmann/json.hpp>

namespace osmosis::kube {
namespace {

Error::Code codeForStatus(int status) {
  switch (status) {
    case 400:
      return Error::Code::kInvalidArgument;
    case 401:
      return Error::Code::kUnauthenticated;
    case 403:
      return Error::Code::kPermissionDenied;
    case 404:
      return Error::Code::kNotFound;
    case 409:
      return Error::Code::kConflict;
    case 410:
      return Error::Code::kNotFound;
    case 422:
      return Error::Code::kInvalidArgument;
    case 429:
      return Error::Code::kUnavailable;
    case 504:
      return Error::Code::kTimeout;
    default:
      return status >= 500 ? Error::Code::kUnavailable : Error::Code::kInternal;
  }
}

std::string defaultReason(int status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

}  // namespace

Error apiError(int httpStatus, const std::string& body, const std::string& doing) {
  Error e;
  e.httpStatus = httpStatus;
  e.code = codeForStatus(httpStatus);
  e.reason = defaultReason(httpStatus);
  std::string message;
  auto status = nlohmann::json::parse(body, nullptr, false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    if (status.contains("reason") && status["reason"].is_string() &&
        !status["reason"].get<std::string>().empty()) {
      e.reason = status["reason"].get<std::string>();
    }
    if (status.contains("message") && status["message"].is_string())
      message = status["message"].get<std::string>();
    if (status.contains("code") && status["code"].is_number_integer() && httpStatus == 200) {
      // A Status inside a 200 stream (watch ERROR event) carries the real code.
      e.httpStatus = status["code"].get<int>();
      e.code = codeForStatus(e.httpStatus);
    }
    const auto& details = status.contains("details") ? status["details"] : nlohmann::json();
    if (details.is_object() && details.contains("causes") && details["causes"].is_array() &&
        message.empty()) {
      for (const auto& c : details["causes"]) {
        if (!c.is_object()) continue;
        message += (message.empty() ? "" : "; ") + c.value("field", std::string()) + ": " +
                   c.value("message", std::string());
      }
    }
  } else {
    message = body.substr(0, 300);
  }
  if (e.reason == "AlreadyExists") e.code = Error::Code::kAlreadyExists;
  e.message = doing + ": " +
              (e.reason.empty() ? "HTTP " + std::to_string(e.httpStatus) : e.reason) +
              (message.empty() ? "" : ": " + message);
  return e;
}

Error connectionError(const std::string& what, const std::string& doing) {
  return makeError(Error::Code::kUnavailable, doing + ": " + what);
}

}  // namespace osmosis::kube
