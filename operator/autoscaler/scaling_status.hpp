#pragma once

// Pure pieces of the autoscaler's I/O side, kept apart so they can be tested alone: the
// Channel's scaling settings as an engine Policy, the words of Events, the status fields, and
// whether a HorizontalPodAutoscaler already scales the same target.

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "operator/api/conditions.hpp"
#include "operator/api/spec.hpp"
#include "operator/autoscaler/decision.hpp"
#include "operator/autoscaler/policy.hpp"

namespace osmosis::autoscaler {

// spec.scaling fields from the Channel, operator-level fields from `operatorPolicy`.
Policy policyFrom(const api::ScalingSpec& scaling, const Policy& operatorPolicy);

// "orders-worker 2 -> 6: backlog 560 (pending 500, in flight 60) ..." (the engine's reason).
std::string eventMessage(const std::string& target, int from, int to, const Decision& d);

// The name of an HPA in `hpas` (an HPA list) that scales the same object, if any.
std::optional<std::string> conflictingHpa(const nlohmann::json& hpas,
                                          const api::ScaleTargetRef& target);

// status.replicas: {current, desired, summary "current/desired"}.
nlohmann::json replicasStatus(int current, int desired);

inline constexpr const char* kStatusFieldManager = "osmosis-autoscaler";

// What the ScalingActive condition has to say, in order of precedence.
struct ScalingSituation {
  bool paused = false;                 // the osmosis.dev/scaling-paused annotation
  std::optional<std::string> hpa;      // an HPA that scales the same target
  std::optional<std::string> failure;  // the last /scale write failed (message)
  std::string target;                  // "Deployment orders-worker"
  int minReplicas = 0;
  int maxReplicas = 0;
  int currentReplicas = 0;
  Mode mode = Mode::kLag;
};
api::Condition scalingCondition(const ScalingSituation& s, int64_t generation);

// The autoscaler's status fields (only those: ScalingActive, replicas, lastScale, throughput)
// as a server-side apply body under kStatusFieldManager. `previous` is the cached status: the
// condition keeps its transition time while its status holds. Null `replicas`, `lastScale` or
// `throughput` are left out.
nlohmann::json scalingStatusApply(const std::string& ns, const std::string& name,
                                  const api::Condition& active, const nlohmann::json& replicas,
                                  const nlohmann::json& lastScale, const nlohmann::json& previous,
                                  const std::string& now,
                                  const nlohmann::json& throughput = nullptr);

// status.throughput: the per-pod rate measured (by the pods, or by the consumer reads when no
// pod reports; 3 significant digits) and when, kept
// so a restarted operator starts in drain mode (issue 13).
nlohmann::json throughputStatus(double perPodRate, const std::string& measuredAt);
// Whether a newly learned rate is worth writing over `written`: none yet, a change of more than
// 5%, or a measurement `refresh` newer (so its age stays known).
bool throughputWorthWriting(const nlohmann::json& written, double perPodRate,
                            std::chrono::system_clock::time_point measuredAt,
                            std::chrono::seconds refresh);
// The rate and its measurement time from a Channel's status.throughput; empty when absent or
// malformed (it is only a starting point).
struct RememberedRate {
  double perPodRate = 0;
  std::chrono::system_clock::time_point measuredAt;
};
std::optional<RememberedRate> rememberedRate(const nlohmann::json& status);
// True when `body` would change nothing in `previous` but times.
bool scalingStatusUnchanged(const nlohmann::json& body, const nlohmann::json& previous);

}  // namespace osmosis::autoscaler
