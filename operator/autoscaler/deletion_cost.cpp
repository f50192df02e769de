#include "operator/autoscaler/deletion_cost.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "operator/autoscaler/backlog.hpp"

namespace osmosis::autoscaler {

int deletionCost(const PodReport* report, bool draining) {
  if (draining) return kDrainingCost;
  if (!report) return 0;
  if (report->inFlight > 0)
    return kBusyCost + static_cast<int>(std::min<int64_t>(report->inFlight, 1000));
  const double busy = std::isfinite(report->busyFraction) ? report->busyFraction : 0;
  return static_cast<int>(std::lround(std::clamp(busy, 0.0, 1.0) * 100));
}

std::vector<CostPatch> planDeletionCosts(const std::vector<PodCostState>& pods,
                                         const std::vector<PodReport>& reports, TimePoint now,
                                         std::chrono::milliseconds staleness) {
  const LiveReports live = selectLive(reports, now, staleness);
  std::map<std::string, const PodReport*> byPod;
  for (const PodReport* r : live.live)
    byPod[r->pod] = r;
  std::vector<CostPatch> patches;
  for (const PodCostState& p : pods) {
    const auto it = byPod.find(p.pod);
    const int cost = deletionCost(it == byPod.end() ? nullptr : it->second, p.draining);
    if (p.annotation != std::to_string(cost)) patches.push_back({p.pod, cost});
  }
  return patches;
}

}  // namespace osmosis::autoscaler
