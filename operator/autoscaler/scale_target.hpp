#pragma once

// The workload the autoscaler scales, as it sees and moves it: the /scale subresource (current
// replicas, the pod selector; the actuator writes spec.replicas there), the pods that selector
// picks (which may report), and (HorizontalPodAutoscalers that would fight over it: hpa_lists.hpp).
// I/O only; what to do with it is the engine's and channel_scaler's business.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "operator/api/spec.hpp"
#include "operator/autoscaler/deletion_cost.hpp"
#include "operator/kube/client/client.hpp"

namespace osmosis::autoscaler {

class ScaleTarget {
 public:
  ScaleTarget(kube::Client& client, std::string ns, api::ScaleTargetRef ref)
      : client_(client), ns_(std::move(ns)), ref_(std::move(ref)) {}

  const api::ScaleTargetRef& ref() const { return ref_; }

  // Reads /scale: the replicas the target is set to and its pod selector. A NotFound error
  // names the field to fix.
  Status read();
  std::optional<int> replicas() const { return replicas_; }
  const std::string& selector() const { return selector_; }

  // The actuator: writes spec.replicas through /scale (never the object itself).
  Status setReplicas(int replicas);

  // The names of the target's pods that still run (not Succeeded or Failed).
  Result<std::set<std::string>> livePods();

  // The target's running pods not being deleted, with their pod-deletion-cost annotation.
  Result<std::vector<PodCostState>> podCostStates();
  // Sets a pod's pod-deletion-cost annotation (merge patch).
  Status setDeletionCost(const std::string& pod, int cost);

 private:
  Result<kube::Resource> resource();

  kube::Client& client_;
  const std::string ns_;
  const api::ScaleTargetRef ref_;
  std::optional<kube::Resource> resource_;
  std::optional<int> replicas_;
  std::string selector_;
};

}  // namespace osmosis::autoscaler
