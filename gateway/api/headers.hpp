#pragma once

// Pure: the request headers the gateway acts on.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace osmosis::gateway {

inline constexpr size_t kMaxIdempotencyKey = 255;

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header: an sf-string; a bare token is
// accepted too): 1..255 visible ASCII characters. nullopt + `problem` when malformed.
std::optional<std::string> parseIdempotencyKey(std::string_view value, std::string* problem);

// Prefer (RFC 7240): the wait=N preference in seconds, capped at `max`; nullopt when absent
// or unreadable (a preference is advisory: never an error).
std::optional<std::chrono::seconds> preferWait(std::string_view value, std::chrono::seconds max);

// "Bearer <token>" -> token; empty when absent or another scheme.
std::string bearerToken(std::string_view authorization);

// The value of `name` in a query string ("a=1&token=x"); no percent-decoding (tokens are
// base64url). Empty when absent.
std::string queryParam(std::string_view target, std::string_view name);

// A Last-Event-ID (or ?lastEventId=) value: the stream sequence of the last event seen.
std::optional<uint64_t> parseLastEventId(std::string_view value);

}  // namespace osmosis::gateway
