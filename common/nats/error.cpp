#include "common/nats/error.hpp"

#include <string>

#include "common/util/json_text.hpp"
#include "common/util/redact.hpp"

namespace osmosis::nats {
namespace {

Error::Code codeFor(natsStatus status, jsErrCode js) {
  switch (static_cast<int>(js)) {
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr:
      return Error::Code::kNotFound;
    case JSStreamNameExistErr:
    case JSConsumerNameExistErr:
      return Error::Code::kAlreadyExists;
    case JSStreamSubjectOverlapErr:
    case JSConsumerExistingActiveErr:
      return Error::Code::kConflict;
    case JSStreamInvalidConfig:
    case JSStreamReplicasNotSupportedErr:
      return Error::Code::kInvalidArgument;
    case JSNotEnabledErr:
      return Error::Code::kUnavailable;
    default:
      break;
  }
  switch (status) {
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_NOT_YET_CONNECTED:
    case NATS_NO_RESPONDERS:
    case NATS_SSL_ERROR:
    case NATS_SECURE_CONNECTION_WANTED:
    case NATS_SECURE_CONNECTION_REQUIRED:
      return Error::Code::kUnavailable;
    case NATS_CONNECTION_AUTH_FAILED:
      return Error::Code::kUnauthenticated;
    case NATS_NOT_PERMITTED:
      return Error::Code::kPermissionDenied;
    case NATS_NOT_FOUND:
      return Error::Code::kNotFound;
    case NATS_TIMEOUT:
      return Error::Code::kTimeout;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_ADDRESS_MISSING:
    case NATS_MAX_PAYLOAD:
      return Error::Code::kInvalidArgument;
    default:
      return Error::Code::kInternal;
  }
}

}  // namespace

Error toError(natsStatus status, std::string_view doing, jsErrCode jsCode) {
  std::string msg(doing);
  msg += ": ";
  msg += natsStatus_GetText(status);
  // The thread's last error carries the server's words (e.g. "Authorization Violation").
  const char* detail = nats_GetLastError(nullptr);
  if (detail != nullptr && *detail != '\0' &&
      std::string_view(detail) != natsStatus_GetText(status)) {
    msg += " (";
    msg += detail;
    msg += ")";
  }
  if (static_cast<int>(jsCode) != 0) msg += " [JetStream error " + std::to_string(jsCode) + "]";
  // Error text travels to logs, Events, status and reports: never with a URL's credentials,
  // never with bytes that would break JSON.
  Error e = makeError(codeFor(status, jsCode), printableText(redactCredentials(msg), 2048));
  if (static_cast<int>(jsCode) != 0) e.reason = std::to_string(jsCode);
  return e;
}

}  // namespace osmosis::nats
