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
  // After that, while no pod is measured again, the newest measurement is still used, with a
  // trust falling linearly from 1 to staleThroughputTrust at throughputForgetAfter (the rate
  // is multiplied by it: more replicas than it says, not fewer); then forgotten (lag mode).
  // throughputForgetAfter <= throughputMaxAge: forgotten at throughputMaxAge.
  std::chrono::seconds throughputForgetAfter{24 * 3600};
  double staleThroughputTrust = 0.5;
  // Arrival rate: a fast average (arrivalRise) is used while it is more than arrivalSurge above
  // the slow one (arrivalFall), else the slow one; and how long the last sample stays usable
  // before the sum of the pods' rates stands in for it.
  std::chrono::seconds arrivalRise{2};
  std::chrono::seconds arrivalFall{10};
  double arrivalSurge = 0.2;
  std::chrono::seconds arrivalMaxAge{30};
  // Feed the arrival rate every report from the reports (backlog change + processed), not only
  // from the operator's stream reads (every 5 s while pods report).
  bool arrivalFromReports = true;
  // Capacity asked for and not ready yet: while fewer pods report than the replicas asked for,
  // a scale-up waits this long after the last one for them (0: never waits). A growing backlog
  // while pods start is expected, not a sign that more are needed.
  std::chrono::seconds startupGrace{30};
  // Lag mode (no per-pod rate), within startupGrace of the last scale-up and while fewer pods
  // report than asked for: a scale-up waits until the recommendation exceeds the current
  // replicas by this share (1: doubled), instead of following the backlog every second; 0: off.
  double lagStartupStep = 1.0;
  // Scale-down only when the demand, raised by this share, still fits fewer replicas (a band
  // against flapping by one replica on noisy traffic); 0: off.
  double scaleDownTolerance = 0.1;
  // A scale-down step smaller than this share of the step it could take (the smaller of the
  // step limit and the way down to the current recommendation) waits for the window to allow
  // a bigger one, instead of using up the step interval on -1; 0: off.
  double minScaleDownStepShare = 0.5;
  // Drain mode: the stabilization window records the replicas the arrivals need (with
  // headroom), not the backlog's drain: a drained backlog needs no replicas, so its peak must
  // not hold them for a whole window. The lag-mode guesses made before the per-pod rate was
  // known leave the window when it becomes known. false: the window records the whole formula.
  bool steadyWindow = true;
  // With steadyWindow: the window records what the sustained arrival rate needs, not the fast
  // average a surge's onset uses; the formula still scales up on the fast one.
  bool windowSustained = true;
  // The sustained rate's time constant. Longer than arrivalFall: a dump shorter than it counts
  // at a fraction (10 s of 2000/s: 28% at 30 s, 63% at 10 s), so its peak is not held for a
  // whole window, while a step up is still held once it has lasted (a dip has the window).
  std::chrono::seconds arrivalSustained{30};
  // A channel idle this long (no backlog, no arrivals, no processing) is past a dip the window
  // guards against: the window stops holding, and its pods go by the scale-down steps (at least
  // one until scaleToZeroAfterSeconds). 0: off, the window holds as long as it is
  // (docs/scaling-quality.md: what it saves and the p99 wait it can give back).
  std::chrono::seconds idleWindowRelease{0};
  // With no pod reporting, the per-pod rate is measured from the operator's consumer reads
  // (consumer_throughput.hpp), so drain mode replaces lag mode's backlog-only rule; false: lag
  // mode until a pod reports.
  bool consumerThroughput = true;
};

// The same bounds the Channel validation uses, plus the operator-level fields.
Status validate(const Policy& policy);
Status validate(const Tuning& tuning);

}  // namespace osmosis::autoscaler
