#include "operator/autoscaler/decision.hpp"

namespace osmosis::autoscaler {

DecisionKind classify(int currentReplicas, int desiredReplicas) {
  if (desiredReplicas == currentReplicas) return DecisionKind::kNone;
  if (currentReplicas <= 0) return DecisionKind::kActivated;
  if (desiredReplicas <= 0) return DecisionKind::kScaledToZero;
  return desiredReplicas > currentReplicas ? DecisionKind::kScaledUp : DecisionKind::kScaledDown;
}

const char* kindName(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kNone:
      return "None";
    case DecisionKind::kScaledUp:
      return "ScaledUp";
    case DecisionKind::kScaledDown:
      return "ScaledDown";
    case DecisionKind::kScaledToZero:
      return "ScaledToZero";
    case DecisionKind::kActivated:
      return "Activated";
  }
  return "Unknown";
}

const char* modeName(Mode mode) {
  switch (mode) {
    case Mode::kLag:
      return "lag";
    case Mode::kDrain:
      return "drain";
  }
  return "unknown";
}

const char* arrivalSourceName(ArrivalSource source) {
  switch (source) {
    case ArrivalSource::kNone:
      return "none";
    case ArrivalSource::kStream:
      return "stream";
    case ArrivalSource::kReports:
      return "reports";
  }
  return "unknown";
}

}  // namespace osmosis::autoscaler
