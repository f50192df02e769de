#include "sidecar/dispatch/outcome.hpp"

#include <algorithm>
#include <charconv>

namespace osmosis::sidecar {

const char* actionName(Settlement::Action action) {
  switch (action) {
    case Settlement::Action::kAck:
      return "ack";
    case Settlement::Action::kNak:
      return "nak";
    case Settlement::Action::kTerm:
      return "term";
  }
  return "unknown";
}

milliseconds backoffDelay(uint64_t deliveryCount, const RetryPolicy& policy) {
  const uint64_t n = std::max<uint64_t>(deliveryCount, 1);
  if (!policy.backoff.empty()) {
    size_t i = static_cast<size_t>(std::min<uint64_t>(n - 1, policy.backoff.size() - 1));
    return policy.backoff[i];
  }
  milliseconds d = policy.base;
  for (uint64_t i = 1; i < n && d < policy.cap; ++i)
    d *= 2;
  return std::min(d, policy.cap);
}

std::optional<milliseconds> parseRetryAfter(const std::string& value) {
  int64_t secs = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
  if (value.empty() || ec != std::errc() || p != value.data() + value.size() || secs < 0)
    return std::nullopt;
  return milliseconds(std::min<int64_t>(secs, 3600) * 1000);
}

Settlement decide(const DeliveryResult& r, uint64_t deliveryCount, const RetryPolicy& policy) {
  using Kind = DeliveryResult::Kind;
  using Action = Settlement::Action;
  Settlement d;
  switch (r.kind) {
    case Kind::kAborted:
      return Settlement{Action::kNak, milliseconds(0), false, "sidecar draining: " + r.detail};
    case Kind::kRefused:
      d.reason = "app refused the connection";
      break;
    case Kind::kTimeout:
      d.reason = "app did not answer within the message timeout";
      break;
    case Kind::kTransport:
      d.reason = "app connection failed: " + r.detail;
      break;
    case Kind::kResponse:
      if (r.status >= 200 && r.status < 300)
        return Settlement{Action::kAck, milliseconds(0), false, ""};
      d.reason = "app answered HTTP " + std::to_string(r.status);
      if (r.status >= 400 && r.status < 500 && r.status != 429) {
        // Permanent: the app says the message itself is wrong.
        return Settlement{Action::kTerm, milliseconds(0), policy.hasDeadLetter, d.reason};
      }
      if (r.status < 400 && !(r.status >= 200 && r.status < 300)) {
        // 1xx/3xx: the app misbehaves; treat as transient (the message may be fine).
        d.reason += " (not a final answer)";
      }
      break;
  }
  // Transient failure: nak with backoff, unless this was the last delivery the consumer allows.
  if (policy.maxDeliver > 0 && deliveryCount >= static_cast<uint64_t>(policy.maxDeliver)) {
    return Settlement{Action::kTerm, milliseconds(0), policy.hasDeadLetter,
                      d.reason + "; delivery " + std::to_string(deliveryCount) + " of max " +
                          std::to_string(policy.maxDeliver)};
  }
  d.action = Action::kNak;
  d.delay = backoffDelay(deliveryCount, policy);
  if (r.retryAfter && (r.status == 429 || r.status == 503)) d.delay = *r.retryAfter;
  return d;
}

}  // namespace osmosis::sidecar
