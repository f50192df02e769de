#pragma once

// Which pods go first when replicas go down: a plan of the
// `controller.kubernetes.io/pod-deletion-cost` annotation per pod, from the sidecar reports.
// Among ready pods the ReplicaSet controller deletes the lowest cost first (Kubernetes 1.22+),
// so idle pods go and busy ones keep their messages (no redelivery, no handler cut short).
//
//  - draining (the sidecar said it is stopping): kDrainingCost, the lowest;
//  - idle (a fresh report with nothing in flight): 0..100, the share of the last interval it
//    was busy (a pod that just finished work is a little dearer than one idle for long);
//  - busy (messages in flight): 1000 + in flight (up to 1000), the highest;
//  - no fresh report (starting, or its sidecar cannot report): 0, as idle; a pod that does not
//    report is not the one to keep.
// Pure: the caller lists the pods, patches the annotations the plan names (before lowering
// replicas), and owns the switch (operator flag --pod-deletion-cost).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "operator/autoscaler/signals.hpp"

namespace osmosis::autoscaler {

inline constexpr const char* kPodDeletionCostAnnotation =
    "controller.kubernetes.io/pod-deletion-cost";
inline constexpr int kDrainingCost = -1000;
inline constexpr int kBusyCost = 1000;

struct PodCostState {
  std::string pod;
  std::optional<std::string> annotation;  // the pod's pod-deletion-cost now, if set
  bool draining = false;                  // its sidecar's final report came (it is stopping)
};

struct CostPatch {
  std::string pod;
  int cost = 0;
  bool operator==(const CostPatch&) const = default;
};

// The cost of one pod from its newest fresh report (nullptr: none).
int deletionCost(const PodReport* report, bool draining);

// The patches that bring every pod's annotation to its cost: only pods whose annotation is
// missing or differs, in the order of `pods`. Reports follow the engine's freshness rules
// (backlog.hpp); reports of pods not in `pods` are ignored.
std::vector<CostPatch> planDeletionCosts(const std::vector<PodCostState>& pods,
                                         const std::vector<PodReport>& reports, TimePoint now,
                                         std::chrono::milliseconds staleness);

}  // namespace osmosis::autoscaler
