#pragma once

// Pure: request events as the client sees them, over server-sent events or WebSocket.
//   SSE:       id: <stream sequence>\nevent: <type>\ndata: <json>\n\n
//   WebSocket: {"id": <sequence>, "event": "<type>", "data": <json>}   (one text message each)
// The id is the event's sequence in the results stream: a client that reconnects with
// Last-Event-ID: <id> gets every later event still stored, and a "history-lost" event first
// when some may have aged out.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/nats/jetstream_types.hpp"

namespace osmosis::gateway {

struct Event {
  uint64_t id = 0;
  std::string type;
  std::string data;  // JSON text on one line
  bool final = false;
};

inline constexpr const char* kEventHistoryLost = "history-lost";

Event toEvent(const nats::StoredMessage& m);
// Events stored after `lastSeen` may have been removed (the stream starts at firstAvailable).
Event historyLost(uint64_t lastSeen, uint64_t firstAvailable);
// The event for a channel broadcast (no id: broadcasts are not stored).
Event broadcast(std::string_view data);

std::string sseFrame(const Event& e);
// Sent first: how long a client waits before reconnecting.
std::string sseRetry(int milliseconds);
std::string sseComment(std::string_view text);
std::string webSocketFrame(const Event& e);

}  // namespace osmosis::gateway
