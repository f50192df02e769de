#pragma once

// What a message's NATS headers become on the HTTP request to the app (docs/sidecar.md):
// as-is, except names that would break or confuse HTTP framing, and our own Osmosis-*
// namespace, which arrive as Osmosis-Nats-<name>; names HTTP cannot carry are dropped.
// Pure; fuzzed (tests/fuzz/nats_headers_fuzz.cpp).

#include <string_view>

#include "common/nats/headers.hpp"
#include "sidecar/dispatch/http_client.hpp"

namespace osmosis::sidecar {

bool reservedHeader(std::string_view name);

// Adds the headers to `req`; true when one of them is Content-Type.
bool addNatsHeaders(RequestBuilder& req, const nats::Headers& headers);

}  // namespace osmosis::sidecar
