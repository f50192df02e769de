#include "gateway/events/event_format.hpp"

#include <strings.h>

#include <nlohmann/json.hpp>

#include "common/contract/gateway_contract.hpp"
#include "common/util/json_text.hpp"

namespace osmosis::gateway {
namespace {

// Data that is not JSON travels as a JSON string, so every frame's data is JSON on one line.
std::string asJsonLine(std::string_view data) {
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (j.is_discarded()) j = std::string(data);
  return dumpJson(j);
}

}  // namespace

Event toEvent(const nats::StoredMessage& m) {
  Event e;
  e.id = m.sequence;
  for (const auto& [k, v] : m.headers) {
    if (::strcasecmp(k.c_str(), contract::gateway::kHeaderEvent) == 0) e.type = v;
  }
  if (e.type.empty()) e.type = "message";
  // Event names travel in an SSE field: one token.
  for (char& c : e.type)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) c = '_';
  e.data = asJsonLine(m.data);
  e.final = contract::gateway::isFinalEvent(e.type);
  return e;
}

Event historyLost(uint64_t lastSeen, uint64_t firstAvailable) {
  Event e;
  e.type = kEventHistoryLost;
  e.data = dumpJson({{"type", kEventHistoryLost},
                     {"lastEventId", lastSeen},
                     {"firstAvailable", firstAvailable},
                     {"message",
                      "events after the last one seen may have expired from the results "
                      "stream; GET the request for its state"}});
  return e;
}

Event broadcast(std::string_view data) {
  Event e;
  e.type = "broadcast";
  e.data = asJsonLine(data);
  return e;
}

std::string sseFrame(const Event& e) {
  std::string out;
  if (e.id > 0) out += "id: " + std::to_string(e.id) + "\n";
  out += "event: " + e.type + "\n";
  out += "data: " + e.data + "\n\n";
  return out;
}

std::string sseRetry(int milliseconds) {
  return "retry: " + std::to_string(milliseconds) + "\n\n";
}

std::string sseComment(std::string_view text) {
  std::string out = ": ";
  for (char c : text)
    out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return out + "\n\n";
}

std::string webSocketFrame(const Event& e) {
  nlohmann::json j{{"event", e.type}, {"data", nlohmann::json::parse(e.data, nullptr, false)}};
  if (e.id > 0) j["id"] = e.id;
  return dumpJson(j);
}

}  // namespace osmosis::gateway
