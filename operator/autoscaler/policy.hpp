#pragma once

// Scaling settings. The first block mirrors api::ScalingSpec (operator/api/spec.hpp:
// same fields, same defaults); the rest are operator-level settings with no Channel field.

#include <chrono>
#include <cstdint>

#include "common/util/result.hpp"

namespace osmosis::autoscaler {

struct Policy {
  // From the Channel's spec.scaling.
  int minReplicas = 0;
  int maxReplicas = 10;
  int64_t targetBacklogPerReplica = 100;  // lag mode
  int targetDrainSeconds = 10;            // drain mode
  int64_t activationBacklog = 1;          // at zero: wake at this backlog
  int stabilizationSeconds = 60;          // scaleDown.stabilizationSeconds
  int maxStepPercent = 50;                // scaleDown.maxStepPercent
  int scaleToZeroAfterSeconds = 120;

  // Operator-level.
  int scaleUpMaxStep = 0;  // replicas added per step at most; 0: unlimited
  double headroom = 1.2;   // drain mode: capacity kept above the arrival rate
  std::chrono::milliseconds reportStaleness = std::chrono::seconds(5);
  // Scale-down steps are at least this far apart (evaluations run on every report, so a
  // per-evaluation step limit would be no limit).
  int scaleDownStepSeconds = 15;
};

// How signals are turned into rates. Defaults suit reports every second.
struct Tuning {
  // A report shows the pod at capacity when messages wait undelivered (pending > 0), it holds
  // some, and it was busy at least this share of the interval.
  double busyFraction = 0.9;
  // Per-pod throughput is measured from the processed counter over a busy run this long at
  // least (shorter runs are noise) and at most (the run restarts, so it follows change).
  std::chrono::seconds minThroughputSpan{2};
  std::chrono::seconds maxThroughputSpan{60};
  // A measured per-pod throughput is trusted this long (pods of one Deployment are alike).
  std::chrono::seconds throughputMaxAge{1800};
  // Arrival rate from the stream's last sequence: smoothing time constant, and how long the
  // last read stays usable before the sum of the pods' rates stands in for it.
  std::chrono::seconds arrivalSmoothing{10};
  std::chrono::seconds arrivalMaxAge{30};
};

// The same bounds the Channel validation uses, plus the operator-level fields.
Status validate(const Policy& policy);
Status validate(const Tuning& tuning);

}  // namespace osmosis::autoscaler
