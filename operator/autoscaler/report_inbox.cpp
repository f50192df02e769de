#include "operator/autoscaler/report_inbox.hpp"

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

bool ReportInbox::offer(std::string_view data, TimePoint receivedAt) {
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
  ++stats_.accepted;
  lastArrival_ = receivedAt;
  if (r.final) {
    pods_.erase(r.pod);
  } else {
    pods_[r.pod] = toPodReport(r, receivedAt);
  }
  dirty_ = true;
  return true;
}

std::vector<PodReport> ReportInbox::snapshot(TimePoint now, std::chrono::milliseconds forget) {
  std::lock_guard lock(mu_);
  std::vector<PodReport> out;
  for (auto it = pods_.begin(); it != pods_.end();) {
    if (now - it->second.receivedAt > forget) {
      it = pods_.erase(it);
    } else {
      out.push_back(it->second);
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
