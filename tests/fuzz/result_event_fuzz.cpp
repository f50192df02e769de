// A results message as stored (any headers and body: whatever can publish on
// osmosis.results.>), through the gateway's toEvent, SSE and WebSocket frames and
// resultResponse (tests/fuzz/gateway_events.hpp for the properties). The input is header
// lines "Name: value" up to an empty line, then the body.
#include <string>

#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/gateway_events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = asText(data, size);
  osmosis::nats::StoredMessage m;
  m.subject = "osmosis.results.ns.ch.0123456789abcdef0123456789abcdef";
  m.sequence = size;  // 0 too: an event without an id
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    m.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  m.data = std::string(text);
  osmosis::fuzz::checkStoredEvent(m);
  return 0;
}
