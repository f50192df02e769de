#pragma once

// Pure: the HTTP answer that hands a client its request's outcome (GET .../result, or a POST
// with Prefer: wait that saw the outcome in time).
//   result event -> the worker's own status, Content-Type and body (base64 decoded)
//   failed event -> 502 with the failure as JSON (the worker refused it or gave up)
//   anything else (not finished) -> nullopt

#include <optional>

#include "common/http/server.hpp"
#include "common/nats/jetstream_types.hpp"

namespace osmosis::gateway {

std::optional<http::Response> resultResponse(const nats::StoredMessage& finalEvent);

}  // namespace osmosis::gateway
