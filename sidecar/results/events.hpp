#pragma once

// Pure: the bodies of the results events the sidecar publishes for requests that came through
// the gateway (common/contract/gateway_contract.hpp, docs/sidecar.md "Results"), and which
// messages get them. Each body is a JSON object whose "type" is the event's name.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/nats/headers.hpp"
#include "common/util/result.hpp"

namespace osmosis::sidecar::results {

// What a message's Osmosis-Request-Id says about events for it.
struct RequestIdCheck {
  enum class Verdict {
    kAbsent,     // no header: a plain NATS publisher, no events
    kOurs,       // a valid id of this sidecar's channel: events go to resultsSubject(id)
    kMalformed,  // not "<ns>.<channel>.<32 hex>": no events (it could not name a subject)
    kForeign,    // valid, but another namespace or channel's: no events (spoofed or misrouted)
  };
  Verdict verdict = Verdict::kAbsent;
  std::string id;  // as sent (kOurs: safe to put in a subject)
};
RequestIdCheck checkRequestId(const nats::Headers& headers, const std::string& ns,
                              const std::string& channel);
const char* verdictName(RequestIdCheck::Verdict verdict);

// delivered {type, attempt, pod}
std::string deliveredEvent(uint64_t attempt, const std::string& pod);
// retry {type, attempt, delayMs, reason}
std::string retryEvent(uint64_t attempt, int64_t delayMs, const std::string& reason);

// The app's 2xx answer as kept by the sidecar: `body` holds it only when it was within the
// limit; `bodyBytes` is its whole size either way.
struct AppAnswer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;
  uint64_t bodyBytes = 0;
  bool bodyKept = true;
};
// result {type, status, headers{lowercase name: value}, body, bodyEncoding}, with
// bodyOmitted "<n> bytes over the <limit> limit" (and an empty body) when it was not kept.
// Hop-by-hop headers (Connection, Transfer-Encoding, Content-Length, ...) are left out; a
// repeated name's values are joined with ", ". The body is "utf-8" text when it is valid
// UTF-8, else "base64".
std::string resultEvent(const AppAnswer& answer, uint64_t limit);
// The same event without the body, saying why (when the whole event would be larger than the
// NATS server takes in one message).
std::string resultEventWithoutBody(const AppAnswer& answer, const std::string& why);
std::string omittedBecause(uint64_t bytes, uint64_t limit);

// failed {type, status, reason, deadLettered}; status null when the app gave no HTTP answer
// (timeout, connection refused or reset).
std::string failedEvent(std::optional<int> status, const std::string& reason, bool deadLettered);

// progress {type, data}: the body parsed as JSON when the Content-Type says JSON (refused when
// it does not parse), else as text (refused when it is not UTF-8). The error is for a 400.
Result<std::string> progressEvent(std::string_view contentType, std::string_view body);

bool validUtf8(std::string_view text);

}  // namespace osmosis::sidecar::results
