#include "operator/autoscaler/scaling_status.hpp"

namespace osmosis::autoscaler {

Policy policyFrom(const channel::ScalingSpec& s, const Policy& operatorPolicy) {
  Policy p = operatorPolicy;
  p.minReplicas = s.minReplicas;
  p.maxReplicas = s.maxReplicas;
  p.targetBacklogPerReplica = s.targetBacklogPerReplica;
  p.targetDrainSeconds = s.targetDrainSeconds;
  p.activationBacklog = s.activationBacklog;
  p.stabilizationSeconds = s.stabilizationSeconds;
  p.maxStepPercent = s.maxStepPercent;
  p.scaleToZeroAfterSeconds = s.scaleToZeroAfterSeconds;
  return p;
}

std::string eventMessage(const std::string& target, int from, int to, const Decision& d) {
  return target + " " + std::to_string(from) + " -> " + std::to_string(to) + ": " + d.reason;
}

std::optional<std::string> conflictingHpa(const nlohmann::json& hpas,
                                          const channel::ScaleTargetRef& target) {
  if (!hpas.is_object() || !hpas.contains("items") || !hpas["items"].is_array()) return {};
  for (const auto& h : hpas["items"]) {
    const auto spec = h.value("spec", nlohmann::json::object());
    const auto ref = spec.value("scaleTargetRef", nlohmann::json::object());
    if (ref.value("kind", "") != target.kind || ref.value("name", "") != target.name) continue;
    // apiVersion's group must match when the HPA gives one (apps/v1 vs apps/v1beta2 is fine).
    std::string a = ref.value("apiVersion", ""), b = target.apiVersion;
    auto group = [](const std::string& v) {
      auto slash = v.find('/');
      return slash == std::string::npos ? std::string() : v.substr(0, slash);
    };
    if (!a.empty() && group(a) != group(b)) continue;
    return h["metadata"].value("name", "");
  }
  return {};
}

nlohmann::json replicasStatus(int current, int desired) {
  return {{"current", current},
          {"desired", desired},
          {"summary", std::to_string(current) + "/" + std::to_string(desired)}};
}

}  // namespace osmosis::autoscaler
