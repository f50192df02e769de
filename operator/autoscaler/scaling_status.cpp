#include "operator/autoscaler/scaling_status.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/report/report.hpp"

namespace osmosis::autoscaler {

Policy policyFrom(const api::ScalingSpec& s, const Policy& operatorPolicy) {
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
                                          const api::ScaleTargetRef& target) {
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

api::Condition scalingCondition(const ScalingSituation& s, int64_t generation) {
  if (s.paused) {
    return {"ScalingActive", "False", "Paused",
            std::string("annotation osmosis.dev/scaling-paused=true; the target keeps ") +
                std::to_string(s.currentReplicas) + " replicas",
            generation};
  }
  if (s.hpa) {
    return {"ScalingActive", "False", "ConflictingAutoscaler",
            "HorizontalPodAutoscaler " + *s.hpa + " also scales " + s.target +
                "; Osmosis leaves it alone",
            generation};
  }
  if (s.failure) return {"ScalingActive", "False", "ScaleFailed", *s.failure, generation};
  return {"ScalingActive", "True", "Scaling",
          "scaling " + s.target + " between " + std::to_string(s.minReplicas) + " and " +
              std::to_string(s.maxReplicas) + " replicas by backlog (" + modeName(s.mode) +
              " mode)",
          generation};
}

nlohmann::json scalingStatusApply(const std::string& ns, const std::string& name,
                                  const api::Condition& active, const nlohmann::json& replicas,
                                  const nlohmann::json& lastScale, const nlohmann::json& previous,
                                  const std::string& now, const nlohmann::json& throughput) {
  using nlohmann::json;
  json have = api::findCondition(
      previous.is_object() ? previous.value("conditions", json()) : json(), active.type);
  json status = {
      {"conditions",
       api::setCondition(have.is_object() ? json::array({have}) : json::array(), active, now)}};
  if (!replicas.is_null()) status["replicas"] = replicas;
  if (!lastScale.is_null()) status["lastScale"] = lastScale;
  if (!throughput.is_null()) status["throughput"] = throughput;
  return {{"apiVersion", "osmosis.dev/v1alpha1"},
          {"kind", "Channel"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"status", status}};
}

nlohmann::json throughputStatus(double perPodRate, const std::string& measuredAt) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", perPodRate);
  return {{"perPodRate", std::strtod(buf, nullptr)}, {"measuredAt", measuredAt}};
}

bool throughputWorthWriting(const nlohmann::json& written, double perPodRate,
                            std::chrono::system_clock::time_point measuredAt,
                            std::chrono::seconds refresh) {
  const auto old = rememberedRate(nlohmann::json{{"throughput", written}});
  if (!old) return true;
  if (std::abs(perPodRate - old->perPodRate) > 0.05 * old->perPodRate) return true;
  return measuredAt - old->measuredAt >= refresh;
}

std::optional<RememberedRate> rememberedRate(const nlohmann::json& status) {
  if (!status.is_object() || !status.contains("throughput")) return std::nullopt;
  const nlohmann::json& t = status["throughput"];
  if (!t.is_object() || !t.contains("perPodRate") || !t["perPodRate"].is_number() ||
      !t.contains("measuredAt") || !t["measuredAt"].is_string())
    return std::nullopt;
  const double rate = t["perPodRate"].get<double>();
  // Written as Kubernetes times are (seconds, kube::formatTime); the report parser wants
  // milliseconds.
  std::string text = t["measuredAt"].get<std::string>();
  if (text.size() == 20 && text.back() == 'Z') text.insert(19, ".000");
  const auto at = report::parseTime(text);
  if (!std::isfinite(rate) || rate <= 0 || !at) return std::nullopt;
  return RememberedRate{rate, *at};
}

bool scalingStatusUnchanged(const nlohmann::json& body, const nlohmann::json& previous) {
  using nlohmann::json;
  if (!previous.is_object()) return false;
  const json& want = body["status"];
  json cond = want["conditions"].at(0);
  json have = api::findCondition(previous.value("conditions", json()), cond.value("type", ""));
  if (!have.is_object()) return false;
  for (const char* k : {"status", "reason", "message", "observedGeneration"})
    if (have.value(k, json()) != cond.value(k, json())) return false;
  for (const char* k : {"replicas", "lastScale", "throughput"})
    if (want.contains(k) && previous.value(k, json()) != want[k]) return false;
  return true;
}

}  // namespace osmosis::autoscaler
