#pragma once

// What the gateway makes of a stored results message (gateway/events), checked the same way by
// the stored_message and result_event targets: an event whose name is one SSE token and whose
// data is JSON on one line; frames that are one event each; a final event answers GET .../result
// with a 2xx or a 502, and only with header names that are HTTP tokens.
#include <nlohmann/json.hpp>

#include "common/nats/jetstream_types.hpp"
#include "gateway/events/event_format.hpp"
#include "gateway/events/result_response.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace osmosis::fuzz {

inline bool httpToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

inline void checkStoredEvent(const nats::StoredMessage& m) {
  const gateway::Event e = gateway::toEvent(m);
  FUZZ_REQUIRE(e.id == m.sequence);
  FUZZ_REQUIRE(!e.type.empty());
  for (char c : e.type)
    FUZZ_REQUIRE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  FUZZ_REQUIRE(e.data.find_first_of("\r\n") == std::string::npos);
  FUZZ_REQUIRE(!nlohmann::json::parse(e.data, nullptr, false).is_discarded());

  const std::string sse = gateway::sseFrame(e);
  FUZZ_REQUIRE(sse.find('\r') == std::string::npos);
  FUZZ_REQUIRE(sse.find("\n\n") == sse.size() - 2);  // one event, ended once
  const auto ws = nlohmann::json::parse(gateway::webSocketFrame(e), nullptr, false);
  FUZZ_REQUIRE(ws.is_object() && ws.value("event", "") == e.type);

  const auto res = gateway::resultResponse(m);
  FUZZ_REQUIRE(res.has_value() == e.final);
  if (!res) return;
  FUZZ_REQUIRE((res->status >= 200 && res->status <= 299) || res->status == 502);
  for (const auto& [name, value] : res->headers)
    FUZZ_REQUIRE(httpToken(name));
  if (res->status == 502)
    FUZZ_REQUIRE(nlohmann::json::parse(res->body, nullptr, false).is_object());
}

}  // namespace osmosis::fuzz
