#include "operator/autoscaler/scale_target.hpp"

namespace osmosis::autoscaler {

using nlohmann::json;

Result<kube::Resource> ScaleTarget::resource() {
  if (resource_) return *resource_;
  auto r = client_.resourceFor(ref_.apiVersion, ref_.kind);
  if (!r) {
    return makeError(r.error().code, ref_.apiVersion + " " + ref_.kind + ": " + r.error().message);
  }
  resource_ = r.value();
  return r;
}

Status ScaleTarget::read() {
  auto res = resource();
  if (!res) return res.error();
  auto scale = client_.getScale(res.value(), ns_, ref_.name);
  if (!scale) {
    if (kube::isNotFound(scale.error())) {
      return makeError(Error::Code::kNotFound,
                       ref_.kind + " " + ns_ + "/" + ref_.name +
                           " (spec.worker.scaleTargetRef) not found, or it has no /scale "
                           "subresource");
    }
    return scale.error();
  }
  replicas_ = scale->value("spec", json::object()).value("replicas", 0);
  selector_ = scale->value("status", json::object()).value("selector", "");
  return {};
}

Status ScaleTarget::setReplicas(int replicas) {
  auto res = resource();
  if (!res) return res.error();
  auto r = client_.setReplicas(res.value(), ns_, ref_.name, replicas);
  if (!r) return r.error();
  replicas_ = replicas;
  return {};
}

Result<std::set<std::string>> ScaleTarget::livePods() {
  kube::ListOptions lo;
  lo.labelSelector = selector_;
  auto pods = client_.list(kube::resources::pods(), ns_, lo);
  if (!pods) return pods.error();
  std::set<std::string> live;
  for (const auto& pod : pods->items) {
    const std::string phase = pod.value("status", json::object()).value("phase", "");
    if (phase == "Succeeded" || phase == "Failed") continue;
    live.insert(pod["metadata"].value("name", ""));
  }
  return live;
}

Result<std::vector<PodCostState>> ScaleTarget::podCostStates() {
  kube::ListOptions lo;
  lo.labelSelector = selector_;
  auto pods = client_.list(kube::resources::pods(), ns_, lo);
  if (!pods) return pods.error();
  std::vector<PodCostState> states;
  for (const auto& pod : pods->items) {
    const json& meta = pod["metadata"];
    const std::string phase = pod.value("status", json::object()).value("phase", "");
    // Gone or going: the ReplicaSet no longer counts it.
    if (phase == "Succeeded" || phase == "Failed" || meta.contains("deletionTimestamp")) continue;
    PodCostState s;
    s.pod = meta.value("name", "");
    const json annotations = meta.value("annotations", json::object());
    if (annotations.contains(kPodDeletionCostAnnotation) &&
        annotations[kPodDeletionCostAnnotation].is_string())
      s.annotation = annotations[kPodDeletionCostAnnotation].get<std::string>();
    states.push_back(std::move(s));
  }
  return states;
}

Status ScaleTarget::setDeletionCost(const std::string& pod, int cost) {
  const json patch = {
      {"metadata", {{"annotations", {{kPodDeletionCostAnnotation, std::to_string(cost)}}}}}};
  auto r = client_.patch(kube::resources::pods(), ns_, pod, kube::PatchType::kMerge, patch);
  if (!r) return r.error();
  return {};
}

}  // namespace osmosis::autoscaler
