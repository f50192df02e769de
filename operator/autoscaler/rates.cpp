#include "operator/autoscaler/rates.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace osmosis::autoscaler {
namespace {

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

void ArrivalRate::blend(double instant, double dt, TimePoint at) {
  const auto alpha = [dt](std::chrono::seconds tau) {
    return 1.0 - std::exp(-dt / std::chrono::duration<double>(tau).count());
  };
  fast_ += alpha(rise_) * (instant - fast_);
  slow_ += alpha(fall_) * (instant - slow_);
  sustained_ += alpha(sustainedTau_) * (instant - sustained_);
  lastSampleAt_ = at;
}

bool ArrivalRate::observe(uint64_t streamLastSequence, TimePoint readAt) {
  if (!lastReadAt_ || streamLastSequence < lastSequence_) {
    lastReadAt_ = readAt;
    lastSequence_ = streamLastSequence;
    return false;
  }
  if (readAt <= *lastReadAt_) return false;
  const double dt = seconds(readAt - *lastReadAt_);
  const uint64_t arrived = streamLastSequence - lastSequence_;
  // Counted already when the reports' account covered this interval.
  // (A report interval ending after the previous read covered some of this one.)
  if (!lastArrivedAt_ || *lastArrivedAt_ <= *lastReadAt_)
    blend(static_cast<double>(arrived) / dt, dt, readAt);
  lastReadAt_ = readAt;
  lastSequence_ = streamLastSequence;
  return arrived > 0;
}

void ArrivalRate::observeArrived(double messages, TimePoint from, TimePoint to) {
  if (to <= from || !std::isfinite(messages)) return;
  const double dt = seconds(to - from);
  blend(std::max(0.0, messages) / dt, dt, to);
  lastArrivedAt_ = to;
}

std::optional<double> ArrivalRate::rate(TimePoint now, std::chrono::seconds maxAge) const {
  if (!lastSampleAt_) return std::nullopt;
  if (now > *lastSampleAt_ && now - *lastSampleAt_ > maxAge) return std::nullopt;
  return fast_ > slow_ * (1 + surge_) ? fast_ : slow_;
}

std::optional<double> ArrivalRate::sustained(TimePoint now, std::chrono::seconds maxAge) const {
  if (!rate(now, maxAge)) return std::nullopt;
  return sustained_;
}

bool PodThroughput::atCapacity(const PodReport& report) const {
  return report.consumer && report.consumer->pending > 0 && report.inFlight > 0 &&
         report.busyFraction >= tuning_.busyFraction;
}

uint64_t PodThroughput::observe(const PodReport& report, TimePoint at) {
  // Bounded whatever the reports say (the inbox only passes live pods; this is the backstop).
  if (pods_.size() >= kMaxPodsTracked && !pods_.count(report.pod)) return 0;
  auto [it, inserted] = pods_.try_emplace(report.pod);
  Pod& pod = it->second;
  if (!inserted && at <= pod.lastAt) return 0;

  uint64_t processedMore = 0;
  if (!inserted && report.processed < pod.lastProcessed) {
    pod.run.reset();  // the sidecar restarted: its counter began again
  } else if (!inserted) {
    processedMore = report.processed - pod.lastProcessed;
  }
  pod.lastAt = at;
  pod.lastProcessed = report.processed;

  if (!atCapacity(report)) {
    pod.run.reset();
    return processedMore;
  }
  if (!pod.run) {
    pod.run = BusyRun{at, report.processed};
    return processedMore;
  }
  const auto span = at - pod.run->startAt;
  if (span >= tuning_.minThroughputSpan) {
    const double rate =
        static_cast<double>(report.processed - pod.run->startProcessed) / seconds(span);
    // A pod that processed nothing while work waited is stuck, not a measure of capacity.
    if (rate > 0) {
      pod.measured = Measurement{rate, at};
      if (!newest_ || at >= newest_->at) newest_ = pod.measured;
    }
    if (span >= tuning_.maxThroughputSpan) pod.run = BusyRun{at, report.processed};
  }
  return processedMore;
}

std::optional<double> PodThroughput::perPodRate(TimePoint now) const {
  std::vector<double> rates;
  for (const auto& [name, pod] : pods_) {
    if (pod.measured && current(*pod.measured, now)) rates.push_back(pod.measured->rate);
  }
  if (rates.empty()) {
    const auto known = trustedFallback(now);
    if (!known) return std::nullopt;
    return known->measuredRate * known->share;
  }
  std::sort(rates.begin(), rates.end());
  const size_t mid = rates.size() / 2;
  return rates.size() % 2 == 1 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
}

std::optional<PodThroughput::Measurement> PodThroughput::newestKnown() const {
  if (remembered_ && (!newest_ || remembered_->at > newest_->at)) return remembered_;
  return newest_;
}

double PodThroughput::trustIn(const Measurement& m, TimePoint now) const {
  if (current(m, now)) return 1;
  const auto maxAge = tuning_.throughputMaxAge;
  const auto forget = tuning_.throughputForgetAfter;
  const auto age = now - m.at;
  if (forget <= maxAge || age > forget) return 0;
  const double along = seconds(age - maxAge) / seconds(forget - maxAge);
  return 1 - (1 - tuning_.staleThroughputTrust) * along;
}

std::optional<PodThroughput::Trust> PodThroughput::trustedFallback(TimePoint now) const {
  const auto known = newestKnown();
  if (!known) return std::nullopt;
  const double trust = trustIn(*known, now);
  if (!(trust > 0)) return std::nullopt;
  return Trust{trust, known->at, known->rate};
}

std::optional<PodThroughput::Trust> PodThroughput::staleTrust(TimePoint now) const {
  for (const auto& [name, pod] : pods_) {
    if (pod.measured && current(*pod.measured, now)) return std::nullopt;
  }
  const auto fallback = trustedFallback(now);
  if (!fallback || fallback->share >= 1) return std::nullopt;
  return fallback;
}

void PodThroughput::remember(double rate, TimePoint at) {
  if (std::isfinite(rate) && rate > 0) remembered_ = Measurement{rate, at};
}

std::optional<TimePoint> PodThroughput::measuredAt(TimePoint now) const {
  std::optional<TimePoint> newest;
  for (const auto& [name, pod] : pods_) {
    if (pod.measured && current(*pod.measured, now) && (!newest || pod.measured->at > *newest))
      newest = pod.measured->at;
  }
  return newest;
}

void PodThroughput::prune(TimePoint now) {
  std::erase_if(pods_, [&](const auto& entry) {
    return now > entry.second.lastAt && now - entry.second.lastAt > tuning_.throughputMaxAge;
  });
}

}  // namespace osmosis::autoscaler
