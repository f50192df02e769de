#pragma once

// What the engine decided and why: the replicas, the kind of change (the Event reason), the
// figures behind it, and one human sentence.

#include <chrono>
#include <optional>
#include <string>

#include "operator/autoscaler/backlog.hpp"

namespace osmosis::autoscaler {

enum class Mode {
  kLag,    // ceil(backlog / targetBacklogPerReplica): KEDA-compatible, and while throughput is
           // unknown
  kDrain,  // ceil((headroom x arrival + backlog / targetDrainSeconds) / perPodRate)
};

// Relative to the current replicas; the names are the Channel Events' reasons.
enum class DecisionKind { kNone, kScaledUp, kScaledDown, kScaledToZero, kActivated };

enum class ArrivalSource {
  kNone,     // no estimate: counted as 0
  kStream,   // the stream's last sequence over time (preferred)
  kReports,  // the sum of the live pods' processing rates (what leaves equals what arrives)
};

struct Decision {
  int currentReplicas = 0;
  int desiredReplicas = 0;
  // What the rule asks for now, clamped to [max(1, minReplicas), maxReplicas], before the
  // stabilization window, steps and scale-to-zero; this is what the window records.
  int recommendedReplicas = 0;
  DecisionKind kind = DecisionKind::kNone;
  Mode mode = Mode::kLag;
  bool hasSignal = false;  // false: no fresh report or consumer read; replicas held
  Backlog backlog;
  double arrivalRate = 0;  // messages/s
  ArrivalSource arrivalSource = ArrivalSource::kNone;
  std::optional<double> perPodRate;      // messages/s one pod handles at capacity; drain mode
  std::chrono::milliseconds idleFor{0};  // no backlog, arrivals or processing for this long
  std::string reason;
};

DecisionKind classify(int currentReplicas, int desiredReplicas);
const char* kindName(DecisionKind kind);  // "None", "ScaledUp", "ScaledDown", ...
const char* modeName(Mode mode);          // "lag", "drain"
const char* arrivalSourceName(ArrivalSource source);

}  // namespace osmosis::autoscaler
