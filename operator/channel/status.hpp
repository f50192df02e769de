#pragma once

// The Channel controller's part of a Channel's status, as a server-side apply body. Pure.
//
// One owner per field: this controller applies, under its own field manager, the conditions
// Ready, StreamReady, ConsumerReady and GatewayReady (the conditions list is a map keyed by
// type, so each condition has its own owner) and the stream, consumer, subject, backlog and
// gateway fields;
// the autoscaler owns ScalingActive, replicas, lastScale and throughput
// (autoscaler/scaling_status.hpp).
// No merge patch of the conditions list anywhere: a stale cache cannot revert the other's.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/nats/jetstream_types.hpp"
#include "operator/api/conditions.hpp"
#include "operator/api/spec.hpp"

namespace osmosis::channel {

inline constexpr const char* kStatusFieldManager = "osmosis-channel-controller";

// What one pass found.
struct Outcome {
  int64_t generation = 0;
  api::Condition stream{"StreamReady", "Unknown", "Pending", "not reconciled yet", 0};
  api::Condition consumer{"ConsumerReady", "Unknown", "Pending", "not reconciled yet", 0};
  // The results stream (spec.gateway). Not part of Ready: without it the Channel still takes
  // and delivers messages; only the gateway's results are missing.
  api::Condition gateway{"GatewayReady", "Unknown", "Pending", "not reconciled yet", 0};
  std::optional<api::Condition> blocked;  // why Ready is False before NATS is even asked
  std::optional<nats::StreamInfo> streamInfo;
  std::optional<nats::ConsumerInfo> consumerInfo;
  std::optional<std::string> sidecarIn;  // "Kind/name" injected into; "" none; unset: unchanged
};

// The apply body, with status.gateway {path, resultsStream} while spec.gateway.enabled (left
// out otherwise, which removes it). `previous` is the cached status: it supplies the fields this
// pass did not read (backlog figures while NATS is away, where the sidecar is) and the transition
// times of conditions whose status did not change.
nlohmann::json statusApply(const std::string& ns, const std::string& name,
                           const api::ChannelSpec& spec, const Outcome& out,
                           const nlohmann::json& previous, const std::string& now);

// True when `body` would change nothing in `previous` but times: no write needed.
bool statusUnchanged(const nlohmann::json& body, const nlohmann::json& previous);

}  // namespace osmosis::channel
