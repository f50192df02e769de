#pragma once

// The two rates drain mode needs, each from its own signal:
//  - ArrivalRate: messages published per second, from the stream's last sequence over time and
//    from the reports (backlog change plus messages processed), smoothed with an exponentially
//    weighted average over time (irregular reads weigh right) that rises fast and falls slowly.
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
  // Two averages: a fast one (time constant `rise`) and a slow one (`fall`). The rate is the
  // slow one, unless the fast one is more than `surge` above it: a surge is capacity needed
  // now, while a dip or the noise of steady traffic is not yet a trend (and scale-down has its
  // own window). So it rises fast and falls slowly. A third, `sustained` (default: `fall`),
  // is what the stabilization window keeps (Tuning::arrivalSustained).
  ArrivalRate(std::chrono::seconds rise, std::chrono::seconds fall, double surge,
              std::optional<std::chrono::seconds> sustained = std::nullopt)
      : rise_(rise), fall_(fall), sustainedTau_(sustained.value_or(fall)), surge_(surge) {}

  // Feeds one read of the stream. Reads not newer than the previous one are ignored (same read
  // again, equal timestamps); a sequence going back (stream recreated) restarts the
  // measurement. The interval since the previous read counts unless `observeArrived` already
  // covered it (not twice). Returns true when messages arrived since the previous read.
  bool observe(uint64_t streamLastSequence, TimePoint readAt);

  // Feeds messages that arrived over (from, to] by another account (the reports' backlog and
  // processed counters, every second while pods report). Ignored unless to > from.
  void observeArrived(double messages, TimePoint from, TimePoint to);

  // Messages per second; empty before the first interval or when the last is older than
  // `maxAge`.
  std::optional<double> rate(TimePoint now, std::chrono::seconds maxAge) const;
  // The sustained average: without a surge's onset, and a burst shorter than its time constant
  // counts at a fraction. Empty like rate().
  std::optional<double> sustained(TimePoint now, std::chrono::seconds maxAge) const;

 private:
  void blend(double instant, double dt, TimePoint at);

  std::chrono::seconds rise_;
  std::chrono::seconds fall_;
  std::chrono::seconds sustainedTau_;
  double surge_;
  std::optional<TimePoint> lastReadAt_;
  std::optional<TimePoint> lastArrivedAt_;  // end of the last observeArrived interval
  std::optional<TimePoint> lastSampleAt_;   // end of the last interval counted, either way
  uint64_t lastSequence_ = 0;
  // Both start at zero: a first burst is backlog, not yet a sustained rate.
  double fast_ = 0;
  double slow_ = 0;
  double sustained_ = 0;
};

class PodThroughput {
 public:
  static constexpr size_t kMaxPodsTracked = 4096;

  explicit PodThroughput(const Tuning& tuning) : tuning_(tuning) {}

  // Feeds a live pod's report stamped `at` (its receivedAt, not after now). A report not newer
  // than the pod's previous one is ignored. Returns true when the pod processed messages since
  // its previous report. Returns the messages the pod processed since its previous report (0
  // for its first, and after its counter went back: a restarted sidecar).
  uint64_t observe(const PodReport& report, TimePoint at);

  // The median over pods of their latest measurement no older than tuning.throughputMaxAge
  // (robust to one odd pod); else the newest older one (a pod's or the remembered one) times
  // its trust (Tuning::throughputForgetAfter); empty when none is known or trusted.
  std::optional<double> perPodRate(TimePoint now) const;
  // The trust in perPodRate(now): 1 while a measurement is current, less while only an older
  // one is used (with when that one was measured and its undiscounted rate).
  struct Trust {
    double share = 1;
    TimePoint measuredAt;
    double measuredRate = 0;
  };
  std::optional<Trust> staleTrust(TimePoint now) const;

  // Forgets pods not heard from for tuning.throughputMaxAge (pod names churn).
  void prune(TimePoint now);

  // A rate learned before (kept in the Channel's status across operator restarts): used while
  // no pod's own measurement is current, as one taken at `at` (fully trusted until
  // throughputMaxAge after it, then less), and replaced as soon as a pod is measured again.
  // Ignored unless a positive finite number.
  void remember(double rate, TimePoint at);
  // When the newest of the pods' current measurements was taken (not the remembered one).
  std::optional<TimePoint> measuredAt(TimePoint now) const;

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

  bool current(const Measurement& m, TimePoint now) const {
    return now <= m.at || now - m.at <= tuning_.throughputMaxAge;
  }

  // The newest of the pods' measurements and the remembered one, however old.
  std::optional<Measurement> newestKnown() const;
  double trustIn(const Measurement& m, TimePoint now) const;
  // newestKnown() with its trust, while it is trusted at all (what perPodRate falls back to).
  std::optional<Trust> trustedFallback(TimePoint now) const;

  Tuning tuning_;
  std::map<std::string, Pod> pods_;
  std::optional<Measurement> remembered_;
  std::optional<Measurement> newest_;  // the newest pod measurement (pods are pruned)
};

}  // namespace osmosis::autoscaler
