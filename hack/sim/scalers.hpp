#pragma once

// The scalers the simulator compares, each deciding once a simulated second from what it
// could observe in a real cluster:
//  - Osmosis: the real engine (operator/autoscaler/engine.hpp), fed as the operator feeds it:
//    drain mode gets a report from every ready pod each report interval and the operator's own
//    consumer read every 5 s (every 1 s while no pod reports); lag mode gets only the reads,
//    every second (no sidecar reports, so the per-pod rate is never known).
//  - KEDA + HPA with their documented defaults: KEDA polls the lag (pending + ack-pending)
//    every 30 s, activates 0 -> 1 on lag > 0 and goes to 0 after 300 s without lag; the HPA
//    syncs every 15 s with an AverageValue target of 100 per replica (KEDA's lagThreshold),
//    10% tolerance, scale-up by at most max(+100%, +4 pods) per 15 s, scale-down to the
//    largest recommendation of the last 300 s.
//  - CPU HPA: the same HPA on CPU utilisation with a 70% target, minimum 1 replica; a pod's
//    CPU is its busy share (handlers are taken as CPU-bound), averaged over the last 15 s as
//    metrics-server reports it; pods not ready count as 0% on the way up.
//  - Clairvoyant (not a scaler one could build: it reads the trace ahead): the policy's
//    headroom over every second's arrivals, each pod asked for a start-up ahead. The least a
//    scaler keeping that headroom can spend, to tell what a target asks of any scaler.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hack/sim/world.hpp"
#include "operator/autoscaler/engine.hpp"

namespace osmosis::sim {

class Scaler {
 public:
  virtual ~Scaler() = default;
  // Called at every whole simulated second; returns the replicas to set.
  virtual int decide(const World& world) = 0;
  // The reason of the last change, when the scaler gives one.
  virtual std::string lastReason() const { return {}; }
};

struct OsmosisOptions {
  bool reports = true;  // drain mode (sidecar reports) or lag mode (consumer reads only)
  autoscaler::Policy policy;
  autoscaler::Tuning tuning;
};

// A per-pod rate learned before the trace starts (the Channel's status.throughput after an
// operator restart), measured `age` before it.
struct RememberedRate {
  double perPodRate = 0;
  std::chrono::seconds age{0};
};

// Fails when the engine refuses the policy or tuning.
// Without `remembered` the engine starts knowing nothing.
Result<std::unique_ptr<Scaler>> makeOsmosis(const OsmosisOptions& options, int maxReplicas,
                                            std::optional<RememberedRate> remembered = {});
std::unique_ptr<Scaler> makeKedaHpa(int maxReplicas);
std::unique_ptr<Scaler> makeCpuHpa(int maxReplicas);
std::unique_ptr<Scaler> makeClairvoyant(double headroom);

}  // namespace osmosis::sim
