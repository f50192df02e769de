#include "operator/autoscaler/policy.hpp"

#include <cmath>
#include <string>

namespace osmosis::autoscaler {
namespace {

Error invalid(const std::string& field, const std::string& rule) {
  return makeError(Error::Code::kInvalidArgument, field + ": " + rule);
}

}  // namespace

Status validate(const Policy& p) {
  if (p.minReplicas < 0) return invalid("minReplicas", "must be >= 0");
  if (p.maxReplicas < 1) return invalid("maxReplicas", "must be >= 1");
  if (p.minReplicas > p.maxReplicas) return invalid("minReplicas", "must not exceed maxReplicas");
  if (p.targetBacklogPerReplica < 1) return invalid("targetBacklogPerReplica", "must be >= 1");
  if (p.targetDrainSeconds < 1) return invalid("targetDrainSeconds", "must be >= 1");
  if (p.activationBacklog < 1) return invalid("activationBacklog", "must be >= 1");
  if (p.stabilizationSeconds < 0) return invalid("stabilizationSeconds", "must be >= 0");
  if (p.maxStepPercent < 1 || p.maxStepPercent > 100)
    return invalid("maxStepPercent", "must be within 1..100");
  if (p.scaleToZeroAfterSeconds < 0) return invalid("scaleToZeroAfterSeconds", "must be >= 0");
  if (p.scaleUpMaxStep < 0) return invalid("scaleUpMaxStep", "must be >= 0 (0: unlimited)");
  if (!std::isfinite(p.headroom) || p.headroom < 1.0)
    return invalid("headroom", "must be a number >= 1");
  if (p.reportStaleness <= std::chrono::milliseconds::zero())
    return invalid("reportStaleness", "must be > 0");
  if (p.scaleDownStepSeconds < 0) return invalid("scaleDownStepSeconds", "must be >= 0");
  return {};
}

Status validate(const Tuning& t) {
  if (!std::isfinite(t.busyFraction) || t.busyFraction <= 0 || t.busyFraction > 1)
    return invalid("busyFraction", "must be within (0, 1]");
  if (t.minThroughputSpan <= std::chrono::seconds::zero())
    return invalid("minThroughputSpan", "must be > 0");
  if (t.maxThroughputSpan < t.minThroughputSpan)
    return invalid("maxThroughputSpan", "must be >= minThroughputSpan");
  if (t.throughputMaxAge <= std::chrono::seconds::zero())
    return invalid("throughputMaxAge", "must be > 0");
  if (t.arrivalRise <= std::chrono::seconds::zero()) return invalid("arrivalRise", "must be > 0");
  if (t.arrivalFall <= std::chrono::seconds::zero()) return invalid("arrivalFall", "must be > 0");
  if (t.arrivalSustained <= std::chrono::seconds::zero())
    return invalid("arrivalSustained", "must be > 0");
  if (!std::isfinite(t.arrivalSurge) || t.arrivalSurge < 0)
    return invalid("arrivalSurge", "must be a number >= 0");
  if (t.startupGrace < std::chrono::seconds::zero())
    return invalid("startupGrace", "must be >= 0 (0: off)");
  if (!std::isfinite(t.scaleDownTolerance) || t.scaleDownTolerance < 0 || t.scaleDownTolerance >= 1)
    return invalid("scaleDownTolerance", "must be within [0, 1)");
  if (!std::isfinite(t.minScaleDownStepShare) || t.minScaleDownStepShare < 0 ||
      t.minScaleDownStepShare > 1)
    return invalid("minScaleDownStepShare", "must be within [0, 1]");
  if (!std::isfinite(t.staleThroughputTrust) || t.staleThroughputTrust <= 0 ||
      t.staleThroughputTrust > 1)
    return invalid("staleThroughputTrust", "must be within (0, 1]");
  if (!std::isfinite(t.lagStartupStep) || t.lagStartupStep < 0 || t.lagStartupStep > 10)
    return invalid("lagStartupStep", "must be within [0, 10]");
  if (t.arrivalMaxAge <= std::chrono::seconds::zero())
    return invalid("arrivalMaxAge", "must be > 0");
  if (t.idleWindowRelease < std::chrono::seconds::zero())
    return invalid("idleWindowRelease", "must be >= 0 (0: off)");
  return {};
}

}  // namespace osmosis::autoscaler
