#pragma once

// The autoscaler's decision engine: pure and deterministic. Signals and the time go in; the
// desired replicas and the reason come out. No I/O and no clock: the caller passes `now` (the
// steady clock) and stamps every signal with the same clock. One Engine per Channel; it keeps
// the state the rules need (stabilization window, arrival rate, per-pod throughput, last
// activity). Rules: docs/autoscaler.md.

#include <optional>

#include "common/util/result.hpp"
#include "operator/autoscaler/consumer_throughput.hpp"
#include "operator/autoscaler/decision.hpp"
#include "operator/autoscaler/policy.hpp"
#include "operator/autoscaler/rates.hpp"
#include "operator/autoscaler/signals.hpp"
#include "operator/autoscaler/window.hpp"

namespace osmosis::autoscaler {

class Engine {
 public:
  // Fails (kInvalidArgument) when the policy or tuning is out of bounds.
  static Result<Engine> create(const Policy& policy, const Tuning& tuning = {});

  // Changes the policy (the Channel was edited), keeping what was learned and the window.
  Status setPolicy(const Policy& policy);
  const Policy& policy() const { return policy_; }

  // Decides for `now`. A `now` earlier than a previous one is treated as that one (time never
  // goes back inside the engine). Call it on every report and on a short tick (about 1 s):
  // a gap longer than policy.reportStaleness between calls with a signal counts as a loss of
  // signal, which restarts the stabilization window and the idle period.
  Decision evaluate(const Inputs& inputs, TimePoint now);

  // A per-pod rate learned before (the Channel's status, after an operator restart): drain mode
  // starts from it until the pods are measured again, for at most Tuning::throughputMaxAge
  // after `measuredAt`. Ignored unless a positive finite number.
  void rememberPerPodRate(double rate, TimePoint measuredAt) {
    throughput_.remember(rate, measuredAt);
  }
  // What was measured here, to keep across restarts: the per-pod rate and when the newest
  // measurement was taken, the pods' or, with none current, the consumer reads' (no pod
  // reports); empty until one was measured (a remembered rate is not returned).
  struct LearnedRate {
    double perPodRate = 0;
    TimePoint measuredAt;
  };
  std::optional<LearnedRate> learnedPerPodRate(TimePoint now) const {
    auto at = throughput_.measuredAt(now);
    if (!at && consumerRateInUse(now)) at = consumerMeasuredAt_;
    const auto rate = throughput_.perPodRate(now);
    if (!at || !rate) return std::nullopt;
    return LearnedRate{*rate, *at};
  }

  // The size of the kept state, for tests and metrics: both stay bounded however long it runs.
  size_t podsTracked() const { return throughput_.podsTracked(); }
  size_t windowEntries() const { return window_.size(); }

 private:
  Engine(const Policy& policy, const Tuning& tuning);

  // The per-pod rate in use is the consumer reads' (no pod measurement is current, and theirs
  // is): for the reason's note and for what is kept across restarts.
  bool consumerRateInUse(TimePoint now) const {
    return consumerMeasuredAt_ && !throughput_.measuredAt(now) &&
           now - *consumerMeasuredAt_ <= tuning_.throughputMaxAge;
  }

  // Feeds the arrival rate from the reports: backlog change plus messages processed.
  void feedArrivalFromReports(const LiveReports& live, const Backlog& backlog, uint64_t processed,
                              TimePoint now);

  struct Flow {
    TimePoint at;    // when the figures were read (their report's arrival)
    double backlog;  // pending + ack-pending as reported
  };

  struct ScaleDownStep {
    TimePoint at;
    int from = 0;
    int to = 0;
  };

  Policy policy_;
  Tuning tuning_;
  StabilizationWindow window_;
  ArrivalRate arrival_;
  PodThroughput throughput_;
  ConsumerThroughput consumerThroughput_;
  std::optional<TimePoint> consumerMeasuredAt_;  // the last per-pod rate from consumer reads
  std::optional<Flow> lastFlow_;
  uint64_t processedSinceFlow_ = 0;
  int64_t staleAckBaseline_ = 0;  // ack-pending no live pod held, when pods last reported
  std::optional<TimePoint> lastNow_;
  std::optional<Mode> lastMode_;
  std::optional<TimePoint> signalSince_;     // start of the current unbroken run of signal
  std::optional<TimePoint> lastSignalAt_;    // the last evaluation with a signal
  std::optional<TimePoint> lastActivityAt_;  // backlog, arrivals or processing last seen
  std::optional<TimePoint> lastScaleUpAt_;
  std::optional<ScaleDownStep> lastScaleDown_;
};

}  // namespace osmosis::autoscaler
