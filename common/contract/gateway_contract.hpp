#pragma once

// The contract between the gateway (gateway/), the sidecar and the operator for requests that
// enter through the gateway (docs/gateway.md), in one place. Pure.
//
//   client --POST--> gateway --JetStream publish (Osmosis-Request-Id, Nats-Msg-Id = id)--> channel
//   sidecar --JetStream publish (Osmosis-Event)--> osmosis.results.<ns>.<channel>.<rand>
//        (the Channel's results stream, made by the operator when spec.gateway.enabled)
//   gateway --SSE / WebSocket / Prefer: wait--> client
//
// A request id is "<namespace>.<channel>.<32 lowercase hex>": the results subject is
// "osmosis.results." + id, so the gateway finds a request's channel (and results stream) from
// the id alone and stays stateless. Namespaces and Channel names are NATS tokens (no dots).

#include <optional>
#include <string>
#include <string_view>

namespace osmosis::contract::gateway {

// On every message the gateway publishes into a channel: the request's id. The sidecar
// publishes events only for messages that carry it (plain NATS publishers pay nothing).
inline constexpr const char* kHeaderRequestId = "Osmosis-Request-Id";
// On every results message: which event it is (one of the kEvent* below).
inline constexpr const char* kHeaderEvent = "Osmosis-Event";

// Sidecar environment (also flags): "true" when the Channel's gateway is enabled, so the
// sidecar publishes events; and the loopback address of its local endpoint for workers
// (POST /v1/requests/{id}/progress, POST /v1/broadcast).
inline constexpr const char* kEnvResults = "OSMOSIS_RESULTS";
inline constexpr const char* kEnvLocalListen = "OSMOSIS_LOCAL_LISTEN";
inline constexpr const char* kDefaultLocalListen = "127.0.0.1:9092";

// Events, in the order a request can see them. Each results message's body is a JSON object
// with "type" equal to its event name (docs/gateway.md lists the other fields):
//   delivered {type, attempt, pod}              the sidecar handed it to the app
//   retry     {type, attempt, delayMs, reason}  the app failed; another delivery follows
//   progress  {type, data}                      the worker said so (local endpoint)
//   result    {type, status, headers{}, body, bodyEncoding: "utf-8"|"base64"}   final, 2xx
//   failed    {type, status, reason, deadLettered}                              final
inline constexpr const char* kEventDelivered = "delivered";
inline constexpr const char* kEventRetry = "retry";
inline constexpr const char* kEventProgress = "progress";
inline constexpr const char* kEventResult = "result";
inline constexpr const char* kEventFailed = "failed";

// True for the events after which nothing more is published for the request.
bool isFinalEvent(std::string_view event);

// The final event's Nats-Msg-Id, so that a redelivery after a crash between publishing the
// result and acking stores it once (within the results stream's duplicate window).
std::string finalEventMsgId(std::string_view requestId);

inline constexpr const char* kResultsSubjectRoot = "osmosis.results";
inline constexpr const char* kBroadcastSubjectRoot = "osmosis.broadcast";
inline constexpr size_t kRandomHexChars = 32;

struct RequestId {
  std::string ns;
  std::string channel;
  std::string random;  // 32 lowercase hex
};

// A Kubernetes name as Channels and namespaces have them (RFC 1123 label: a-z, 0-9, '-').
bool isDnsLabel(std::string_view s);

// nullopt unless `id` is exactly "<namespace>.<channel>.<32 lowercase hex>" with DNS-label
// names (so it can never inject into a subject).
std::optional<RequestId> parseRequestId(std::string_view id);
std::string formatRequestId(const std::string& ns, const std::string& channel,
                            const std::string& random);

// "osmosis.results.<ns>.<channel>.<rand>" (the id after the root).
std::string resultsSubject(std::string_view requestId);
// What the Channel's results stream captures: "osmosis.results.<ns>.<channel>.>".
std::string resultsStreamSubject(const std::string& ns, const std::string& channel);
// Where workers' broadcasts go (core NATS, not stored): "osmosis.broadcast.<ns>.<channel>".
std::string broadcastSubject(const std::string& ns, const std::string& channel);

}  // namespace osmosis::contract::gateway
