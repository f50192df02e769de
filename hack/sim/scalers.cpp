#include "hack/sim/scalers.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <utility>

namespace osmosis::sim {
namespace {

using autoscaler::TimePoint;

// Far from the steady clock's epoch, as a real one is.
TimePoint simTime(double seconds) {
  return TimePoint{} + std::chrono::hours(1000) +
         std::chrono::duration_cast<autoscaler::Duration>(std::chrono::duration<double>(seconds));
}

bool everySeconds(double now, double period, double phase = 0) {
  const double k = (now - phase) / period;
  return now + 1e-9 >= phase && std::abs(k - std::round(k)) < 1e-6;
}

class Osmosis : public Scaler {
 public:
  Osmosis(const OsmosisOptions& options, autoscaler::Engine engine)
      : options_(options), engine_(std::move(engine)) {}

  int decide(const World& world) override {
    const double now = world.now();
    const TimePoint at = simTime(now);
    // Pods report every interval from when they are ready; removed pods' reports go (their
    // final report removes them in the operator).
    std::map<int, autoscaler::PodReport> kept;
    bool anyFresh = false;
    for (const Pod& pod : world.pods()) {
      if (!options_.reports || !pod.ready(now)) continue;
      auto old = reports_.find(pod.id);
      const bool due = old == reports_.end() ||
                       now - lastReportAt_[pod.id] + 1e-9 >= world.model().reportInterval;
      if (due) {
        autoscaler::PodReport r;
        r.pod = "pod-" + std::to_string(pod.id);
        r.receivedAt = at;
        const double inFlight = world.inFlight();
        r.consumer = autoscaler::ConsumerCounts{
            static_cast<uint64_t>(std::max(0.0, std::floor(world.backlog() - inFlight))),
            static_cast<int64_t>(std::ceil(inFlight - 1e-9)), 0};
        r.inFlight = static_cast<int64_t>(std::ceil(pod.inFlight - 1e-9));
        r.processed = static_cast<uint64_t>(std::floor(pod.processed));
        r.rate = pod.smoothedRate;
        const double interval = now - std::max(pod.readyAt, lastReportAt_[pod.id]);
        const double busy = busyAt_[pod.id];
        r.busyFraction = interval > 0 ? std::min(1.0, (pod.busyTime - busy) / interval) : 0;
        busyAt_[pod.id] = pod.busyTime;
        lastReportAt_[pod.id] = now;
        kept[pod.id] = r;
      } else {
        kept[pod.id] = old->second;
      }
      anyFresh = true;
    }
    reports_ = std::move(kept);
    std::erase_if(lastReportAt_, [&](const auto& e) { return !reports_.count(e.first); });
    std::erase_if(busyAt_, [&](const auto& e) { return !reports_.count(e.first); });

    // The operator's own read: every 5 s while pods report, every second otherwise, and at
    // once when a report claims more than the last read's stream held (the operator re-reads
    // then, at most every 200 ms).
    bool claimsMore = false;
    for (const auto& [id, r] : reports_) {
      if (snapshot_ && snapshot_->streamMessages && r.consumer &&
          r.consumer->pending + static_cast<uint64_t>(r.consumer->ackPending) >
              *snapshot_->streamMessages)
        claimsMore = true;
    }
    if (!lastReadAt_ || !anyFresh || claimsMore || now - *lastReadAt_ + 1e-9 >= 5) {
      const double inFlight = world.inFlight();
      autoscaler::ConsumerSnapshot snap;
      snap.counts.pending =
          static_cast<uint64_t>(std::max(0.0, std::floor(world.backlog() - inFlight)));
      snap.counts.ackPending = static_cast<int64_t>(std::ceil(inFlight - 1e-9));
      snap.streamLastSequence = static_cast<uint64_t>(std::floor(world.arrived()));
      snap.readAt = at;
      snap.streamMessages = static_cast<uint64_t>(std::ceil(world.backlog() - 1e-9));
      snapshot_ = snap;
      lastReadAt_ = now;
    }

    autoscaler::Inputs in;
    in.currentReplicas = world.replicas();
    in.consumer = snapshot_;
    for (const auto& [id, r] : reports_)
      in.reports.push_back(r);
    const autoscaler::Decision d = engine_.evaluate(in, at);
    if (d.desiredReplicas != world.replicas()) reason_ = d.reason;
    return d.desiredReplicas;
  }

  std::string lastReason() const override { return reason_; }

 private:
  OsmosisOptions options_;
  autoscaler::Engine engine_;
  std::map<int, autoscaler::PodReport> reports_;
  std::map<int, double> lastReportAt_;
  std::map<int, double> busyAt_;
  std::optional<autoscaler::ConsumerSnapshot> snapshot_;
  std::optional<double> lastReadAt_;
  std::string reason_;
};

// The HPA's replica calculation around a raw recommendation: tolerance is applied by the
// caller (it depends on the metric); this keeps the stabilization window and the rate limits
// (kube-controller-manager's defaults: up max(+100%, +4) per 15 s with no window, down to the
// largest recommendation of the last 300 s, by up to 100% per 15 s).
class Hpa {
 public:
  Hpa(int minReplicas, int maxReplicas) : min_(minReplicas), max_(maxReplicas) {}

  int apply(double now, int current, int raw) {
    raw = std::clamp(raw, min_, max_);
    recommendations_.emplace_back(now, raw);
    // Windows hold what is strictly newer than now - period (the controller's cutoff).
    while (!recommendations_.empty() && now - recommendations_.front().first >= 300 - 1e-9)
      recommendations_.pop_front();
    int down = raw;
    for (const auto& r : recommendations_)
      down = std::max(down, r.second);
    int desired = current;
    if (raw > current) desired = raw;    // no scale-up window by default
    if (desired > down) desired = down;  // down: the window's largest
    if (current > down) desired = down;
    // Scale-up limit over the last 15 s of changes.
    while (!events_.empty() && now - events_.front().first >= 15 - 1e-9)
      events_.pop_front();
    int added = 0, removed = 0;
    for (const auto& e : events_)
      (e.second > 0 ? added : removed) += std::abs(e.second);
    const int periodStartUp = current - added;
    const int upLimit = std::max(periodStartUp * 2, periodStartUp + 4);
    desired = std::min(desired, std::max(current, upLimit));
    (void)removed;  // 100% per period: no limit down beyond minReplicas
    desired = std::clamp(desired, min_, max_);
    if (desired != current) events_.emplace_back(now, desired - current);
    return desired;
  }

 private:
  int min_;
  int max_;
  std::deque<std::pair<double, int>> recommendations_;
  std::deque<std::pair<double, int>> events_;
};

constexpr double kTolerance = 0.1;

class KedaHpa : public Scaler {
 public:
  explicit KedaHpa(int maxReplicas) : hpa_(1, maxReplicas) {}

  int decide(const World& world) override {
    const double now = world.now();
    const double lag = std::ceil(world.backlog() - 1e-9);  // pending + ack-pending
    int replicas = world.replicas();
    if (everySeconds(now, 30)) {  // KEDA's polling: activation and cooldown
      if (lag > 0) {
        lastActive_ = now;
        if (replicas == 0) return 1;
      } else if (replicas > 0 && lastActive_ && now - *lastActive_ >= 300) {
        return 0;  // the HPA is inactive at 0 (its history stays)
      }
      if (!lastActive_) lastActive_ = now;  // KEDA starts the cooldown at start-up
    }
    if (replicas > 0 && everySeconds(now, 15, 5)) {  // the HPA's sync, metric read fresh
      const double ratio = lag / (100.0 * replicas);
      int raw = replicas;
      if (std::abs(ratio - 1) > kTolerance) raw = static_cast<int>(std::ceil(lag / 100.0 - 1e-9));
      replicas = hpa_.apply(now, replicas, raw);
    }
    return replicas;
  }

 private:
  Hpa hpa_;
  std::optional<double> lastActive_;
};

class CpuHpa : public Scaler {
 public:
  explicit CpuHpa(int maxReplicas) : hpa_(1, maxReplicas) {}

  int decide(const World& world) override {
    const double now = world.now();
    int replicas = world.replicas();
    if (replicas == 0) return 1;
    if (!everySeconds(now, 15, 5)) return replicas;
    double sum = 0;
    int ready = 0;
    for (const Pod& pod : world.pods()) {
      if (!pod.ready(now)) continue;
      ++ready;
      const size_t n = std::min<size_t>(15, pod.busyBySecond.size());
      double s = 0;
      for (size_t i = pod.busyBySecond.size() - n; i < pod.busyBySecond.size(); ++i)
        s += pod.busyBySecond[i];
      sum += n > 0 ? s / static_cast<double>(n) : 0;
    }
    if (ready == 0) return replicas;
    const double target = 0.7;
    const double readyRatio = sum / ready / target;
    int raw = replicas;
    if (std::abs(readyRatio - 1) > kTolerance) {
      if (readyRatio > 1) {
        const double all = sum / (target * replicas);  // pods not ready count as 0%
        if (all > 1 + kTolerance) raw = static_cast<int>(std::ceil(sum / target - 1e-9));
      } else {
        raw = static_cast<int>(std::ceil(readyRatio * ready - 1e-9));
      }
    }
    return hpa_.apply(now, replicas, raw);
  }

 private:
  Hpa hpa_;
};

// Reads the trace ahead, which no real scaler can. Each second with arrivals needs
// max(headroom x their mean over the 10 s around it, its own arrivals) / per-pod rate pods, up
// to the next whole pod (the headroom covers noise, as the engine's does; a second's own
// arrivals cover the edge of a step). It asks for them a start-up ahead, and lets a pod go once
// no second within the next start-up needs it. A backlog left behind (a trace starting with
// arrivals, handler times slower than their mean) keeps the pods there are until it is cleared.
class Clairvoyant : public Scaler {
 public:
  explicit Clairvoyant(double headroom) : headroom_(headroom) {}

  int decide(const World& world) override {
    const Model& m = world.model();
    const double now = world.now();
    int need = world.backlog() > 0.5 ? world.replicas() : 0;
    for (double t = now; t <= now + m.startupSeconds + 1e-9; t += 1)
      need = std::max(need, needAt(world.trace(), t, m.perPodRate));
    return std::min(need, m.maxReplicas);
  }

 private:
  int needAt(const Trace& trace, double t, double perPodRate) const {
    const double own = trace.rateAt(t);
    if (own <= 0) return 0;
    double sum = 0;
    int seconds = 0;
    for (int k = -5; k < 5; ++k) {
      if (t + k < 0 || t + k >= trace.duration()) continue;
      sum += trace.rateAt(t + k);
      ++seconds;
    }
    const double rate = std::max(headroom_ * sum / seconds, own);
    return static_cast<int>(std::ceil(rate / perPodRate - 1e-9));
  }

  double headroom_;
};

}  // namespace

Result<std::unique_ptr<Scaler>> makeOsmosis(const OsmosisOptions& options, int maxReplicas,
                                            std::optional<RememberedRate> remembered) {
  OsmosisOptions o = options;
  o.policy.maxReplicas = maxReplicas;
  auto engine = autoscaler::Engine::create(o.policy, o.tuning);
  if (!engine) return engine.error();
  if (remembered) engine->rememberPerPodRate(remembered->perPodRate, simTime(0) - remembered->age);
  return std::unique_ptr<Scaler>(std::make_unique<Osmosis>(o, std::move(engine).value()));
}

std::unique_ptr<Scaler> makeKedaHpa(int maxReplicas) {
  return std::make_unique<KedaHpa>(maxReplicas);
}

std::unique_ptr<Scaler> makeCpuHpa(int maxReplicas) {
  return std::make_unique<CpuHpa>(maxReplicas);
}

std::unique_ptr<Scaler> makeClairvoyant(double headroom) {
  return std::make_unique<Clairvoyant>(headroom);
}

}  // namespace osmosis::sim
