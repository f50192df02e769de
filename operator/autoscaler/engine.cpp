#include "operator/autoscaler/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace osmosis::autoscaler {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Formula results above this are "more than any maxReplicas" (maxReplicas is validated, not
// bounded, so keep the arithmetic far from int overflow).
constexpr int kReplicaCeiling = std::numeric_limits<int>::max() / 4;

std::string oneDecimal(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string shortNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string secondsText(Duration d) {
  return std::to_string(duration_cast<seconds>(d).count()) + "s";
}

// ceil(x) as replicas. The small tolerance keeps float noise (6.0000000001) from adding a pod.
int ceilToReplicas(double x) {
  if (!(x > 0)) return 0;  // also NaN
  const double c = std::ceil(x - 1e-9);
  return c >= kReplicaCeiling ? kReplicaCeiling : static_cast<int>(c);
}

int ceilDivToReplicas(uint64_t backlog, uint64_t perReplica) {
  const uint64_t q = backlog / perReplica + (backlog % perReplica != 0 ? 1 : 0);
  return q >= static_cast<uint64_t>(kReplicaCeiling) ? kReplicaCeiling : static_cast<int>(q);
}

class Notes {
 public:
  void add(std::string note) {
    if (std::find(notes_.begin(), notes_.end(), note) == notes_.end())
      notes_.push_back(std::move(note));
  }
  std::string join() const {
    std::string s;
    for (const auto& n : notes_)
      s += "; " + n;
    return s;
  }

 private:
  std::vector<std::string> notes_;
};

}  // namespace

Result<Engine> Engine::create(const Policy& policy, const Tuning& tuning) {
  if (auto s = validate(policy); !s) return s.error();
  if (auto s = validate(tuning); !s) return s.error();
  return Engine(policy, tuning);
}

Engine::Engine(const Policy& policy, const Tuning& tuning)
    : policy_(policy),
      tuning_(tuning),
      window_(seconds(policy.stabilizationSeconds)),
      arrival_(tuning.arrivalSmoothing),
      throughput_(tuning) {}

Status Engine::setPolicy(const Policy& policy) {
  if (auto s = validate(policy); !s) return s;
  // A longer window needs history the shorter one already dropped: observe it afresh.
  if (policy.stabilizationSeconds > policy_.stabilizationSeconds && signalSince_)
    signalSince_ = lastNow_;
  policy_ = policy;
  window_.setLength(seconds(policy.stabilizationSeconds));
  return {};
}

// Long on purpose: the rules of docs/autoscaler.md in their order (learn from the signals,
// estimate the backlog, recommend, clamp, stabilize, step, explain), read top to bottom next
// to their table tests; cutting it up would scatter one decision over many functions.
Decision Engine::evaluate(const Inputs& inputs, TimePoint now) {
  if (lastNow_ && now < *lastNow_) now = *lastNow_;
  lastNow_ = now;
  const auto staleness = policy_.reportStaleness;
  const seconds window(policy_.stabilizationSeconds);

  Decision d;
  const int current = std::max(0, inputs.currentReplicas);
  d.currentReplicas = current;

  // The rates learn from every live signal, whatever is decided below.
  const LiveReports live = selectLive(inputs.reports, now, staleness);
  bool activity = false;
  for (const PodReport* report : live.live) {
    if (throughput_.observe(*report, std::min(report->receivedAt, now))) activity = true;
  }
  throughput_.prune(now);
  if (inputs.consumer && freshness(inputs.consumer->readAt, now, staleness) != Freshness::kFuture &&
      arrival_.observe(inputs.consumer->streamLastSequence,
                       std::min(inputs.consumer->readAt, now))) {
    activity = true;
  }

  d.backlog = estimateBacklog(live, inputs.consumer, now, staleness, staleAckBaseline_);
  d.perPodRate = throughput_.perPodRate(now);
  d.mode = d.perPodRate ? Mode::kDrain : Mode::kLag;

  if (d.backlog.source == BacklogSource::kNone) {
    // Nothing to go on: hold (within bounds), and make the window and the idle period start
    // over when signal returns; a gap is not evidence of a quiet queue.
    signalSince_.reset();
    lastSignalAt_.reset();
    d.desiredReplicas = std::clamp(current, policy_.minReplicas, policy_.maxReplicas);
    d.recommendedReplicas = d.desiredReplicas;
    d.kind = classify(current, d.desiredReplicas);
    std::string ignored;
    if (d.backlog.staleReports > 0)
      ignored += ", " + std::to_string(d.backlog.staleReports) + " stale reports ignored";
    if (d.backlog.futureReports > 0)
      ignored += ", " + std::to_string(d.backlog.futureReports) + " future-stamped reports ignored";
    d.reason = "no fresh report or consumer read" + ignored + ": keeping " +
               std::to_string(d.desiredReplicas) + " replicas";
    if (d.desiredReplicas != current) d.reason += " (within min/max)";
    if (d.desiredReplicas > current) {
      lastScaleUpAt_ = now;
      lastScaleDown_.reset();
    }
    return d;
  }

  d.hasSignal = true;
  if (!signalSince_ || !lastSignalAt_ || now - *lastSignalAt_ > staleness) signalSince_ = now;
  lastSignalAt_ = now;
  staleAckBaseline_ = d.backlog.uncountedAckPending;
  if (d.backlog.total > 0) activity = true;
  if (activity || !lastActivityAt_) lastActivityAt_ = now;
  const TimePoint quietSince = std::max(*lastActivityAt_, *signalSince_);
  d.idleFor = duration_cast<milliseconds>(now - quietSince);
  const bool idle = !activity && now - quietSince >= seconds(policy_.scaleToZeroAfterSeconds);

  // Arrival rate: the stream's, else what the live pods process (equal in a steady state).
  if (auto stream = arrival_.rate(now, tuning_.arrivalMaxAge)) {
    d.arrivalRate = *stream;
    d.arrivalSource = ArrivalSource::kStream;
  } else if (!live.live.empty()) {
    for (const PodReport* report : live.live) {
      if (std::isfinite(report->rate) && report->rate > 0) d.arrivalRate += report->rate;
    }
    d.arrivalSource = ArrivalSource::kReports;
  }

  // The rule's answer, and the sentence behind it.
  const uint64_t backlog = d.backlog.total;
  int formula = 0;
  std::string basis;
  if (d.perPodRate) {
    const double demand = policy_.headroom * d.arrivalRate +
                          static_cast<double>(backlog) / policy_.targetDrainSeconds;
    formula = ceilToReplicas(demand / *d.perPodRate);
    std::string arrivalText = "arrival " + oneDecimal(d.arrivalRate) + "/s";
    if (d.arrivalSource == ArrivalSource::kReports) arrivalText += " (pods' rate)";
    if (d.arrivalSource == ArrivalSource::kNone) arrivalText += " (unknown)";
    basis = arrivalText + " x " + shortNumber(policy_.headroom) + " + " + describe(d.backlog) +
            " / " + std::to_string(policy_.targetDrainSeconds) + "s = " + oneDecimal(demand) + "/s";
    const std::string perPod = oneDecimal(*d.perPodRate) + "/s per pod";
    basis += formula > current && current > 0
                 ? " > " + std::to_string(current) + " x " + perPod
                 : " needs " + std::to_string(formula) + " x " + perPod;
  } else {
    formula = ceilDivToReplicas(backlog, static_cast<uint64_t>(policy_.targetBacklogPerReplica));
    const std::string perReplica = std::to_string(policy_.targetBacklogPerReplica) + "/replica";
    basis = describe(d.backlog);
    basis += formula > current && current > 0
                 ? " > " + std::to_string(current) + " x " + perReplica
                 : " needs " + std::to_string(formula) + " x " + perReplica;
  }

  Notes notes;
  // What the window records: the answer within bounds, and at least 1 (going to zero is the
  // idle rule's business, not the window's).
  const int recommended =
      std::clamp(std::max(formula, 1), std::max(1, policy_.minReplicas), policy_.maxReplicas);
  d.recommendedReplicas = recommended;
  window_.add(now, recommended);
  if (formula > policy_.maxReplicas)
    notes.add("capped at maxReplicas " + std::to_string(policy_.maxReplicas));
  if (formula < policy_.minReplicas)
    notes.add("raised to minReplicas " + std::to_string(policy_.minReplicas));

  const auto limitUp = [&](int from, int to) {
    if (policy_.scaleUpMaxStep > 0 && to - from > policy_.scaleUpMaxStep) {
      notes.add("scale-up limited to +" + std::to_string(policy_.scaleUpMaxStep) + " per step");
      return from + policy_.scaleUpMaxStep;
    }
    return to;
  };

  std::string prefix;
  int desired = current;
  if (current == 0) {
    if (backlog >= static_cast<uint64_t>(policy_.activationBacklog)) {
      prefix = "activation: backlog " + std::to_string(backlog) +
               " >= " + std::to_string(policy_.activationBacklog) + "; ";
      desired = limitUp(0, recommended);
    } else {
      desired = policy_.minReplicas;
      if (desired == 0)
        notes.add("below activationBacklog " + std::to_string(policy_.activationBacklog) +
                  ": staying at zero");
    }
  } else if (recommended > current) {
    desired = limitUp(current, recommended);
  } else if (idle && policy_.minReplicas == 0 &&
             (!lastScaleUpAt_ || now - *lastScaleUpAt_ > window)) {
    desired = 0;
    notes.add("idle " + secondsText(now - quietSince) +
              " >= " + std::to_string(policy_.scaleToZeroAfterSeconds) + "s: scale to zero");
  } else if (recommended < current) {
    const int largest = window_.largest(now).value_or(recommended);
    if (largest >= current) {
      notes.add("scale-down held: largest recommendation in the last " +
                std::to_string(policy_.stabilizationSeconds) + "s is " + std::to_string(largest));
    } else if (now - *signalSince_ < window) {
      // Too little history (operator restart, signal gap) to know the window's largest.
      notes.add("scale-down waits: signal for " + secondsText(now - *signalSince_) + " of the " +
                std::to_string(policy_.stabilizationSeconds) + "s window");
    } else if (lastScaleDown_ && now - lastScaleDown_->at < seconds(policy_.scaleDownStepSeconds)) {
      if (current == lastScaleDown_->from) {
        desired = std::max(largest, lastScaleDown_->to);  // the step decided, not applied yet
      } else {
        notes.add("next scale-down step in " +
                  secondsText(seconds(policy_.scaleDownStepSeconds) - (now - lastScaleDown_->at)));
      }
    } else {
      const int64_t step =
          std::max<int64_t>(1, static_cast<int64_t>(current) * policy_.maxStepPercent / 100);
      desired = static_cast<int>(std::max<int64_t>(largest, current - step));
      if (largest > recommended)
        notes.add("largest recommendation in the last " +
                  std::to_string(policy_.stabilizationSeconds) + "s is " + std::to_string(largest));
      if (desired > largest)
        notes.add("scale-down limited to -" + std::to_string(step) + " (" +
                  std::to_string(policy_.maxStepPercent) + "%)");
      lastScaleDown_ = ScaleDownStep{now, current, desired};
    }
  }

  if (desired > 0 && current > 0 && backlog == 0 && policy_.minReplicas == 0) {
    if (idle) {
      notes.add("scale to zero waits for the " + std::to_string(policy_.stabilizationSeconds) +
                "s window after the last scale-up");
    } else {
      notes.add("idle " + secondsText(now - quietSince) + " of " +
                std::to_string(policy_.scaleToZeroAfterSeconds) + "s before scale to zero");
    }
  }
  if (desired > policy_.maxReplicas)
    notes.add("capped at maxReplicas " + std::to_string(policy_.maxReplicas));
  desired = std::clamp(desired, policy_.minReplicas, policy_.maxReplicas);
  if (desired > current) {
    lastScaleUpAt_ = now;
    lastScaleDown_.reset();
  }

  d.desiredReplicas = desired;
  d.kind = classify(current, desired);
  d.reason = prefix + basis + notes.join();
  return d;
}

}  // namespace osmosis::autoscaler
