#include "operator/autoscaler/report_inbox.hpp"

#include <algorithm>

#include "common/report/large_change.hpp"

namespace osmosis::autoscaler {

PodReport toPodReport(const report::Report& r, TimePoint receivedAt) {
  PodReport p;
  p.pod = r.pod;
  p.receivedAt = receivedAt;
  if (r.figures)
    p.consumer = ConsumerCounts{r.figures->pending, r.figures->ackPending, r.figures->redelivered};
  p.inFlight = r.inFlight;
  p.processed = r.processed;
  p.rate = r.rate;
  p.busyFraction = r.busyFraction;
  return p;
}

bool ReportInbox::newer(const std::map<std::string, Entry>& in, const report::Report& r) const {
  auto it = in.find(r.pod);
  if (it == in.end()) return true;
  // A restarted sidecar counts from 1 again, with a later clock.
  return r.sequence > it->second.sequence || r.time > it->second.time;
}

namespace {
uint64_t backlogOf(const ConsumerCounts& c) {
  return c.pending + static_cast<uint64_t>(std::max<int64_t>(c.ackPending, 0));
}
}  // namespace

bool ReportInbox::take(const report::Report& r, TimePoint receivedAt) {
  ++stats_.accepted;
  lastArrival_ = receivedAt;
  auto it = pods_.find(r.pod);
  bool moved = r.final || it == pods_.end();
  if (r.final) {
    if (it != pods_.end()) pods_.erase(it);
    return moved;
  }
  PodReport next = toPodReport(r, receivedAt);
  if (!moved) {
    const auto& before = it->second.report.consumer;
    moved = before.has_value() != next.consumer.has_value() ||
            (before && report::largeChange(backlogOf(*before), backlogOf(*next.consumer)));
  }
  pods_[r.pod] = Entry{std::move(next), r.sequence, r.time};
  return moved;
}

bool ReportInbox::offer(std::string_view data, TimePoint receivedAt, WallTime wallNow) {
  auto parsed = report::parse(data);
  std::lock_guard lock(mu_);
  if (!parsed) {
    ++stats_.malformed;
    stats_.lastProblem = parsed.error().message;
    return false;
  }
  const report::Report& r = parsed.value();
  if (r.namespace_ != ns_ || r.channel != channel_) {
    ++stats_.mismatched;
    stats_.lastProblem = "report for " + r.namespace_ + "/" + r.channel + " on the subject of " +
                         ns_ + "/" + channel_;
    return false;
  }
  const auto skew = r.time > wallNow ? r.time - wallNow : wallNow - r.time;
  if (skew > limits_.maxAge) {
    ++stats_.stale;
    stats_.lastProblem =
        "report of pod " + r.pod + " stamped " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(r.time - wallNow).count()) +
        "s from now";
    return false;
  }
  if (!newer(pods_, r)) {
    ++stats_.outOfOrder;
    return false;
  }
  if (!live_ || !live_->count(r.pod)) {
    ++stats_.unknownPod;
    stats_.lastProblem = "report from pod " + r.pod + ", not a live pod of the scale target";
    if (held_.count(r.pod) || held_.size() < limits_.maxHeld) held_[r.pod] = {r, receivedAt};
    return false;
  }
  if (take(r, receivedAt)) moved_ = true;
  return true;
}

void ReportInbox::setLivePods(std::set<std::string> pods) {
  std::lock_guard lock(mu_);
  for (auto it = pods_.begin(); it != pods_.end();)
    it = pods.count(it->first) ? std::next(it) : pods_.erase(it);
  for (const auto& [pod, held] : held_) {
    if (pods.count(pod) && newer(pods_, held.first)) take(held.first, held.second);
  }
  held_.clear();
  live_ = std::move(pods);
}

bool ReportInbox::unknownPodsWaiting() const {
  std::lock_guard lock(mu_);
  return !held_.empty();
}

std::vector<PodReport> ReportInbox::snapshot(TimePoint now, std::chrono::milliseconds forget) {
  std::lock_guard lock(mu_);
  std::vector<PodReport> out;
  for (auto it = pods_.begin(); it != pods_.end();) {
    if (now - it->second.report.receivedAt > forget) {
      it = pods_.erase(it);
    } else {
      out.push_back(it->second.report);
      ++it;
    }
  }
  return out;
}

TimePoint ReportInbox::lastArrival() const {
  std::lock_guard lock(mu_);
  return lastArrival_;
}

InboxStats ReportInbox::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace osmosis::autoscaler
