#pragma once

// Pure: what the sidecar does with a message after trying to deliver it to the app.
//   2xx -> ack. 429, 5xx, timeout, connection refused/reset -> nak with a delay (the Channel's
//   backoff list, or exponential by default; Retry-After honoured). Other 4xx -> term, and
//   dead-letter when a subject is set. A nak on the last allowed delivery (maxDeliver) is a
//   term with dead-letter instead, so the message is not dropped silently by the server.
//   Delivery abandoned because the sidecar is draining -> nak without delay (another pod
//   takes it at once).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace osmosis::sidecar {

using std::chrono::milliseconds;

struct DeliveryResult {
  enum class Kind {
    kResponse,   // the app answered with `status`
    kRefused,    // nothing listens on the app port
    kTimeout,    // the per-message timeout passed
    kTransport,  // connection reset, malformed response, ...
    kAborted,    // the sidecar gave up (drain grace period over)
  };
  Kind kind = Kind::kResponse;
  int status = 0;
  std::optional<milliseconds> retryAfter;  // from a Retry-After header in seconds
  std::string detail;
  // A 2xx answer kept for a results event (RequestBuilder::capture): its headers as received,
  // and its body when within the limit (bodyBytes is its whole size either way).
  bool captured = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint64_t bodyBytes = 0;
  bool bodyKept = true;
};

struct Settlement {
  enum class Action { kAck, kNak, kTerm };
  Action action = Action::kAck;
  milliseconds delay{0};    // for kNak
  bool deadLetter = false;  // for kTerm: publish to the dead-letter subject first
  std::string reason;       // human-readable, also the dead-letter error header
};

struct RetryPolicy {
  std::vector<milliseconds> backoff;  // empty: exponential from `base`, doubling, up to `cap`
  milliseconds base{1000};
  milliseconds cap{std::chrono::minutes(2)};
  int64_t maxDeliver = -1;  // -1: unlimited (as the consumer says)
  bool hasDeadLetter = false;
};

const char* actionName(Settlement::Action action);

// The nak delay for a message on its `deliveryCount`-th delivery (1 for the first).
milliseconds backoffDelay(uint64_t deliveryCount, const RetryPolicy& policy);

Settlement decide(const DeliveryResult& result, uint64_t deliveryCount, const RetryPolicy& policy);

// Parses a Retry-After header given in seconds ("120"); HTTP dates are ignored (nullopt).
std::optional<milliseconds> parseRetryAfter(const std::string& value);

}  // namespace osmosis::sidecar
