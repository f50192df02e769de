#pragma once

// Per-request tokens and request ids, from the gateway's signing key (shared by every
// replica, so any replica can check any token and a retried POST gets the same id anywhere).
//   token(id)            = base64url(HMAC-SHA256(key, "token\n" + id)): reading a request's
//                          events needs it, so ids cannot be enumerated.
//   idFor(idempotency)   = hex(HMAC-SHA256(key, "id\n" + ns/channel + scope + key))[0..32]:
//                          the same Idempotency-Key (from the same publisher: `scope` is a
//                          digest of its bearer token) names the same request.
// Comparison is constant-time.

#include <string>
#include <string_view>

#include "common/util/result.hpp"

namespace osmosis::gateway {

inline constexpr size_t kMinSigningKeyBytes = 32;

class RequestSigner {
 public:
  // Refuses keys shorter than kMinSigningKeyBytes.
  static Result<RequestSigner> create(std::string key);

  std::string token(std::string_view requestId) const;
  bool tokenMatches(std::string_view requestId, std::string_view token) const;

  // A fresh random id part (32 lowercase hex).
  static std::string randomIdPart();
  // The id part for an Idempotency-Key.
  std::string idempotentIdPart(std::string_view ns, std::string_view channel,
                               std::string_view scope, std::string_view idempotencyKey) const;

 private:
  explicit RequestSigner(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// A short digest of a publisher's bearer token (hex), to scope idempotency keys; "" stays "".
std::string publisherScope(std::string_view bearerToken);

// Constant-time equality (tokens).
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace osmosis::gateway
