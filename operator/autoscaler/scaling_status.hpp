#pragma once

// Pure pieces of the autoscaler's I/O side, kept apart so they can be tested alone: the
// Channel's scaling settings as an engine Policy, the words of Events, the status fields, and
// whether a HorizontalPodAutoscaler already scales the same target.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "operator/autoscaler/decision.hpp"
#include "operator/autoscaler/policy.hpp"
#include "operator/channel/spec.hpp"

namespace osmosis::autoscaler {

// spec.scaling fields from the Channel, operator-level fields from `operatorPolicy`.
Policy policyFrom(const channel::ScalingSpec& scaling, const Policy& operatorPolicy);

// "orders-worker 2 -> 6: backlog 560 (pending 500, in flight 60) ..." (the engine's reason).
std::string eventMessage(const std::string& target, int from, int to, const Decision& d);

// The name of an HPA in `hpas` (an HPA list) that scales the same object, if any.
std::optional<std::string> conflictingHpa(const nlohmann::json& hpas,
                                          const channel::ScaleTargetRef& target);

// status.replicas: {current, desired, summary "current/desired"}.
nlohmann::json replicasStatus(int current, int desired);

}  // namespace osmosis::autoscaler
