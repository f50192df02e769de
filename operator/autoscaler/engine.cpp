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
      arrival_(tuning.arrivalRise, tuning.arrivalFall, tuning.arrivalSurge,
               tuning.arrivalSustained),
      throughput_(tuning),
      consumerThroughput_(tuning) {}

Status Engine::setPolicy(const Policy& policy) {
  if (auto s = validate(policy); !s) return s;
  // A longer window needs history the shorter one already dropped: observe it afresh.
  if (policy.stabilizationSeconds > policy_.stabilizationSeconds && signalSince_)
    signalSince_ = lastNow_;
  policy_ = policy;
  window_.setLength(seconds(policy.stabilizationSeconds));
  return {};
}

void Engine::feedArrivalFromReports(const LiveReports& live, const Backlog& backlog,
                                    uint64_t processed, TimePoint now) {
  processedSinceFlow_ += processed;
  if (!tuning_.arrivalFromReports || backlog.source != BacklogSource::kReports) {
    lastFlow_.reset();
    processedSinceFlow_ = 0;
    return;
  }
  // The figures as that report read them (not as bounded by an older consumer read: the bound
  // moves when the read does, which is not traffic), at the report's own time.
  const PodReport* from = nullptr;
  for (const PodReport* report : live.live) {
    if (report->pod == backlog.figuresFrom && report->consumer) from = report;
  }
  if (!from) return;
  const TimePoint figuresAt = std::min(from->receivedAt, now);
  const auto total = static_cast<double>(from->consumer->pending) +
                     static_cast<double>(std::max<int64_t>(0, from->consumer->ackPending));
  if (lastFlow_ && figuresAt <= lastFlow_->at) return;  // no newer figures yet
  // What arrived = what the backlog grew by + what the pods took from it. Over a gap longer
  // than the staleness the counters are not comparable: start again.
  if (lastFlow_ && figuresAt - lastFlow_->at <= policy_.reportStaleness)
    arrival_.observeArrived(total - lastFlow_->backlog + static_cast<double>(processedSinceFlow_),
                            lastFlow_->at, figuresAt);
  lastFlow_ = Flow{figuresAt, total};
  processedSinceFlow_ = 0;
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
  uint64_t processed = 0;  // by the live pods since their previous reports
  for (const PodReport* report : live.live)
    processed += throughput_.observe(*report, std::min(report->receivedAt, now));
  if (processed > 0) activity = true;
  throughput_.prune(now);
  // No pod reports: the consumer reads measure what a pod takes, and it stands in for the pods'
  // own measurement (as a remembered one does) until a pod is measured.
  const auto consumerFreshness =
      inputs.consumer ? std::optional(freshness(inputs.consumer->readAt, now, staleness))
                      : std::nullopt;
  if (tuning_.consumerThroughput && live.live.empty() && consumerFreshness == Freshness::kFresh) {
    const TimePoint readAt = std::min(inputs.consumer->readAt, now);
    if (auto rate =
            consumerThroughput_.observe(*inputs.consumer, readAt, current, lastScaleUpAt_)) {
      throughput_.remember(*rate, readAt);
      consumerMeasuredAt_ = readAt;
    }
  }
  if (inputs.consumer && consumerFreshness != Freshness::kFuture &&
      arrival_.observe(
          inputs.consumer->streamLastSequence,
          std::min(inputs.consumer->streamReadAt.value_or(inputs.consumer->readAt), now))) {
    activity = true;
  }

  d.backlog = estimateBacklog(live, inputs.consumer, now, staleness, staleAckBaseline_);
  feedArrivalFromReports(live, d.backlog, processed, now);
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
  double quotient = 0;        // the formula before ceil, for the tolerance band
  double steadyQuotient = 0;  // drain mode: the arrivals' part alone (steadyWindow)
  std::string basis;
  if (d.perPodRate) {
    const double demand = policy_.headroom * d.arrivalRate +
                          static_cast<double>(backlog) / policy_.targetDrainSeconds;
    quotient = demand / *d.perPodRate;
    steadyQuotient = policy_.headroom * d.arrivalRate / *d.perPodRate;
    formula = ceilToReplicas(quotient);
    std::string arrivalText = "arrival " + oneDecimal(d.arrivalRate) + "/s";
    if (d.arrivalSource == ArrivalSource::kReports) arrivalText += " (pods' rate)";
    if (d.arrivalSource == ArrivalSource::kNone) arrivalText += " (unknown)";
    // The estimate falls slowly (arrivalFall) on purpose; say so when nothing has come for a
    // while, or "arrival 36.4/s" reads as a contradiction of the idle time stated after it.
    if (d.arrivalRate > 0 && d.idleFor >= seconds(1))
      arrivalText += " (falling: nothing arrived for " + secondsText(d.idleFor) + ")";
    basis = arrivalText + " x " + shortNumber(policy_.headroom) + " + " + describe(d.backlog) +
            " / " + std::to_string(policy_.targetDrainSeconds) + "s = " + oneDecimal(demand) + "/s";
    const std::string perPod = oneDecimal(*d.perPodRate) + "/s per pod";
    basis += formula > current && current > 0
                 ? " > " + std::to_string(current) + " x " + perPod
                 : " needs " + std::to_string(formula) + " x " + perPod;
  } else {
    formula = ceilDivToReplicas(backlog, static_cast<uint64_t>(policy_.targetBacklogPerReplica));
    quotient = static_cast<double>(backlog) / static_cast<double>(policy_.targetBacklogPerReplica);
    const std::string perReplica = std::to_string(policy_.targetBacklogPerReplica) + "/replica";
    basis = describe(d.backlog);
    basis += formula > current && current > 0
                 ? " > " + std::to_string(current) + " x " + perReplica
                 : " needs " + std::to_string(formula) + " x " + perReplica;
  }

  Notes notes;
  if (d.perPodRate && consumerRateInUse(now)) {
    notes.add("per-pod rate from the consumer's acks (no pod reports)");
  }
  if (d.perPodRate) {
    if (auto stale = throughput_.staleTrust(now)) {
      notes.add(
          "per-pod rate from " + oneDecimal(stale->measuredRate) + "/s measured " +
          std::to_string(duration_cast<std::chrono::minutes>(now - stale->measuredAt).count()) +
          "m ago, trusted " + shortNumber(stale->share * 100) + "%");
    }
  }
  // Tolerance band: below the current replicas, recommend only what still fits with the demand
  // raised by the tolerance, so noise around a boundary does not flap by one replica.
  // Drain mode only: lag mode stays KEDA's rule.
  const bool banding = tuning_.scaleDownTolerance > 0 && d.perPodRate;
  const auto band = [&](double q) {
    const int plain = ceilToReplicas(q);
    if (plain >= current || !banding) return plain;
    return std::max(plain, std::min(current, ceilToReplicas(q * (1 + tuning_.scaleDownTolerance))));
  };
  const int banded = band(quotient);
  if (banded > formula)
    notes.add("within the " + shortNumber(tuning_.scaleDownTolerance * 100) + "% tolerance of " +
              std::to_string(banded));
  const auto bounded = [&](int replicas) {
    return std::clamp(std::max(replicas, 1), std::max(1, policy_.minReplicas), policy_.maxReplicas);
  };
  // The answer within bounds, and at least 1 (going to zero is the idle rule's business).
  const int recommended = bounded(banded);
  d.recommendedReplicas = recommended;
  // What the window records: the same, or in drain mode with steadyWindow what the arrivals
  // need; guesses of lag mode leave it once the per-pod rate is known.
  const bool steady = tuning_.steadyWindow && d.mode == Mode::kDrain;
  if (steady && lastMode_ == Mode::kLag) window_.clear();
  lastMode_ = d.mode;
  // With windowSustained, what the sustained (slow) arrival rate needs: a surge's onset scales
  // up through the formula, but a 10 s dump's peak is not held for a whole window.
  double heldQuotient = steadyQuotient;
  if (steady && tuning_.windowSustained && d.arrivalSource == ArrivalSource::kStream) {
    if (auto sustained = arrival_.sustained(now, tuning_.arrivalMaxAge))
      heldQuotient = std::min(steadyQuotient, policy_.headroom * *sustained / *d.perPodRate);
  }
  window_.add(now, steady ? bounded(band(heldQuotient)) : recommended);
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
    // Capacity asked for and not ready yet: pods that do not report yet will take work soon;
    // the backlog growing meanwhile is expected, so wait for them (up to startupGrace) rather
    // than ask again for the same work.
    // Only in drain mode, and only while the replicas asked for cover the arrivals: then the
    // extra is the backlog's drain, which they will do once ready.
    const int notReady = current - static_cast<int>(live.live.size());
    // Pods asked for within startupGrace have not all reported yet (startupGrace 0: never).
    const bool starting =
        notReady > 0 && lastScaleUpAt_ && now - *lastScaleUpAt_ < tuning_.startupGrace;
    const std::string waiting = starting
                                    ? "scale-up waits for " + std::to_string(notReady) + " of " +
                                          std::to_string(current) + " pods asked for " +
                                          secondsText(now - *lastScaleUpAt_) + " ago"
                                    : std::string();
    // Lag mode's next ask while pods start (lagStartupStep).
    const int lagStartupAsk =
        std::min(policy_.maxReplicas, ceilToReplicas(current * (1 + tuning_.lagStartupStep)));
    if (starting && d.perPodRate && ceilToReplicas(steadyQuotient) <= current) {
      notes.add(waiting + " (up to " + secondsText(tuning_.startupGrace) + ")");
    } else if (starting && !d.perPodRate && tuning_.lagStartupStep > 0 &&
               recommended < lagStartupAsk) {
      // Lag mode has no per-pod rate to tell what the pods asked for will take: while they
      // start the backlog grows by design, and asking for every 100 messages more is a change
      // a second. Ask again once the recommendation has grown by the step.
      notes.add(waiting + ", or a recommendation of " + std::to_string(lagStartupAsk));
    } else {
      // Up to the top of the tolerance band: a rising demand then crosses it once per band
      // instead of once per replica, and scale-down keeps it until the demand leaves the band.
      int up = recommended;
      if (banding) {
        up = bounded(ceilToReplicas(quotient * (1 + tuning_.scaleDownTolerance)));
        if (up > recommended)
          notes.add("up to the " + shortNumber(tuning_.scaleDownTolerance * 100) +
                    "% tolerance band: " + std::to_string(up));
      }
      desired = limitUp(current, std::max(up, recommended));
    }
  } else if (idle && policy_.minReplicas == 0 &&
             (!lastScaleUpAt_ || now - *lastScaleUpAt_ > window)) {
    // Only the idle figures decided: the formula's figures (a decaying arrival estimate) would
    // contradict the verdict.
    d.desiredReplicas = 0;
    d.kind = classify(current, 0);
    d.reason = "idle " + secondsText(now - quietSince) +
               " >= " + std::to_string(policy_.scaleToZeroAfterSeconds) +
               "s (no backlog, no arrivals, no processing): scale to zero";
    return d;
  } else if (recommended < current) {
    // At least the current recommendation (the window may hold only the arrivals' part).
    int largest = std::max(recommended, window_.largest(now).value_or(recommended));
    if (largest > recommended && tuning_.idleWindowRelease > seconds::zero() && !activity &&
        now - quietSince >= tuning_.idleWindowRelease) {
      notes.add("the window's " + std::to_string(largest) + " released: idle " +
                secondsText(now - quietSince) + " >= " + secondsText(tuning_.idleWindowRelease) +
                " (idleWindowRelease)");
      largest = recommended;
    }
    if (largest >= current) {
      notes.add("scale-down held: largest recommendation in the last " +
                std::to_string(policy_.stabilizationSeconds) + "s is " + std::to_string(largest));
    } else if (now - *signalSince_ < window) {
      // Too little history (operator restart, signal gap) to know the window's largest.
      notes.add("scale-down waits: signal for " + secondsText(now - *signalSince_) + " of the " +
                std::to_string(policy_.stabilizationSeconds) + "s window");
    } else if (steady && lastScaleUpAt_ &&
               now - *lastScaleUpAt_ < seconds(policy_.scaleDownStepSeconds)) {
      // The window holds only the arrivals' part (steadyWindow): without this a scale-up
      // for a backlog could be taken back a second later, when noisy figures move the formula,
      // removing a pod that was just asked for.
      notes.add("scale-down waits: scaled up " + secondsText(now - *lastScaleUpAt_) +
                " ago (at least " + std::to_string(policy_.scaleDownStepSeconds) + "s)");
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
      const int target = static_cast<int>(std::max<int64_t>(largest, current - step));
      // A small step while the window still holds an aging peak would use up the step
      // interval (100 -> 99, then 99 -> 50 a step later): wait for a worthwhile one. How far
      // down it is heading: the recommendation, or in drain mode what the arrivals need (a
      // backlog being drained shrinks the recommendation every second).
      const int heading =
          steady ? std::min(recommended, bounded(band(steadyQuotient))) : recommended;
      const int64_t worthwhile = static_cast<int64_t>(
          std::ceil(tuning_.minScaleDownStepShare *
                    static_cast<double>(std::min<int64_t>(step, current - heading))));
      if (current - target < worthwhile) {
        notes.add("scale-down waits for a step of at least -" + std::to_string(worthwhile) +
                  ": largest recommendation in the last " +
                  std::to_string(policy_.stabilizationSeconds) + "s is " + std::to_string(largest));
      } else {
        desired = target;
        if (largest > recommended)
          notes.add("largest recommendation in the last " +
                    std::to_string(policy_.stabilizationSeconds) + "s is " +
                    std::to_string(largest));
        if (desired > largest)
          notes.add("scale-down limited to -" + std::to_string(step) + " (" +
                    std::to_string(policy_.maxStepPercent) + "%)");
        lastScaleDown_ = ScaleDownStep{now, current, desired};
      }
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
