#pragma once

// The two rates drain mode needs, each from its own signal:
//  - ArrivalRate: messages published per second, from the stream's last sequence over time,
//    smoothed with an exponentially weighted average over time (irregular reads weigh right).
//  - PodThroughput: what one pod processes per second when it is at capacity, measured from
//    its processed counter over runs of reports that show it busy with work waiting. The
//    sidecar's own smoothed rate is not used for this: it lags a burst by its time constant
//    and would make the first estimate far too low (and the scale-up far too large).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "operator/autoscaler/policy.hpp"
#include "operator/autoscaler/signals.hpp"

namespace osmosis::autoscaler {

class ArrivalRate {
 public:
  explicit ArrivalRate(std::chrono::seconds smoothing) : smoothing_(smoothing) {}

  // Feeds one read. Reads not newer than the previous one are ignored (same read again, equal
  // timestamps); a sequence going back (stream recreated) restarts the measurement. Returns
  // true when messages arrived since the previous read.
  bool observe(uint64_t streamLastSequence, TimePoint readAt);

  // Messages per second; empty before two reads or when the last is older than `maxAge`.
  std::optional<double> rate(TimePoint now, std::chrono::seconds maxAge) const;

  void setSmoothing(std::chrono::seconds smoothing) { smoothing_ = smoothing; }

 private:
  std::chrono::seconds smoothing_;
  std::optional<TimePoint> lastReadAt_;
  uint64_t lastSequence_ = 0;
  double rate_ = 0;  // starts at zero: a first burst is backlog, not yet a sustained rate
  bool measured_ = false;
};

class PodThroughput {
 public:
  static constexpr size_t kMaxPodsTracked = 4096;

  explicit PodThroughput(const Tuning& tuning) : tuning_(tuning) {}

  // Feeds a live pod's report stamped `at` (its receivedAt, not after now). A report not newer
  // than the pod's previous one is ignored. Returns true when the pod processed messages since
  // its previous report.
  bool observe(const PodReport& report, TimePoint at);

  // The median over pods of their latest measurement no older than tuning.throughputMaxAge
  // (robust to one odd pod); empty when none is known.
  std::optional<double> perPodRate(TimePoint now) const;

  // Forgets pods not heard from for tuning.throughputMaxAge (pod names churn).
  void prune(TimePoint now);

  size_t podsTracked() const { return pods_.size(); }
  void setTuning(const Tuning& tuning) { tuning_ = tuning; }

 private:
  struct BusyRun {
    TimePoint startAt;
    uint64_t startProcessed = 0;
  };
  struct Measurement {
    double rate = 0;
    TimePoint at;
  };
  struct Pod {
    TimePoint lastAt;
    uint64_t lastProcessed = 0;
    std::optional<BusyRun> run;
    std::optional<Measurement> measured;
  };

  bool atCapacity(const PodReport& report) const;

  Tuning tuning_;
  std::map<std::string, Pod> pods_;
};

}  // namespace osmosis::autoscaler
