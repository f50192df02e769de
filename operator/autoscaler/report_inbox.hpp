#pragma once

// Where sidecar reports land between the NATS callback thread and the autoscaler's loop: the
// latest valid report of each live pod of one Channel, stamped with the operator's steady
// clock on arrival.
//
// A report is only believed when (issue 16, items 12 and 19):
//  - it parses (common/report) and names this Channel (a sidecar cannot speak for another);
//  - its pod is one of the scale target's live pods, as the loop last listed them
//    (setLivePods). A report from a name not (yet) in that list is held, a few at most, until
//    the next listing decides; unknownPodsWaiting() asks for that listing;
//  - it is newer than the pod's previous report (sequence, or time after a sidecar restart);
//  - its `time` is no further than staleness + clock skew from the operator's wall clock.
// A pod's final report removes it at once (its in-flight messages are settled). Everything
// kept is bounded: one entry per live pod, `maxHeld` held ones.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/report/report.hpp"
#include "operator/autoscaler/signals.hpp"

namespace osmosis::autoscaler {

using WallTime = std::chrono::system_clock::time_point;

struct InboxLimits {
  // A report stamped further than this from the operator's wall clock is not current.
  std::chrono::milliseconds maxAge{std::chrono::seconds(20)};
  size_t maxHeld = 64;  // reports of pods not (yet) known to be live
};

struct InboxStats {
  uint64_t accepted = 0;
  uint64_t malformed = 0;
  uint64_t mismatched = 0;  // valid, but for another namespace/channel than the subject's
  uint64_t unknownPod = 0;  // not one of the target's live pods
  uint64_t stale = 0;       // `time` too far from now
  uint64_t outOfOrder = 0;  // not newer than the pod's previous report
  std::string lastProblem;
};

class ReportInbox {
 public:
  ReportInbox(std::string ns, std::string channel, InboxLimits limits = {})
      : ns_(std::move(ns)), channel_(std::move(channel)), limits_(limits) {}

  // From the subscription callback. True when the report was taken (it counts now).
  bool offer(std::string_view data, TimePoint receivedAt, WallTime wallNow);

  // From the loop: the target's live pods (the whole list, after each listing). Held reports
  // of these pods are taken; reports of pods no longer live are dropped.
  void setLivePods(std::set<std::string> pods);
  // True when reports from pods not in the last listing wait (list the pods again).
  bool unknownPodsWaiting() const;

  // The latest report of every live pod, dropping pods silent for longer than `forget` (a
  // pod that went away without a final report).
  std::vector<PodReport> snapshot(TimePoint now, std::chrono::milliseconds forget);

  // True once since the last call when an offered report moved what the decision rests on:
  // a new pod, a final report, figures appearing or going, or a pod's backlog moving by
  // report::largeChange. Worth evaluating at once; other reports wait for the next tick
  // (at 500 Channels x 10 pods, a look per report kept the work queue full and a Channel
  // whose backlog jumped waited behind 500 steady ones).
  bool takeMoved() { return moved_.exchange(false); }
  // When the newest report arrived (for decision latency); epoch if none.
  TimePoint lastArrival() const;

  InboxStats stats() const;

 private:
  struct Entry {
    PodReport report;
    uint64_t sequence = 0;
    WallTime time;
  };
  bool newer(const std::map<std::string, Entry>& in, const report::Report& r) const;
  // Under mu_. True when the report moved something (see takeMoved).
  bool take(const report::Report& r, TimePoint receivedAt);

  const std::string ns_;
  const std::string channel_;
  const InboxLimits limits_;
  mutable std::mutex mu_;
  std::optional<std::set<std::string>> live_;  // unset until the first listing
  std::map<std::string, Entry> pods_;
  std::map<std::string, std::pair<report::Report, TimePoint>> held_;
  TimePoint lastArrival_{};
  InboxStats stats_;
  std::atomic<bool> moved_{false};
};

// Pure: a parsed report -> what the engine needs.
PodReport toPodReport(const report::Report& r, TimePoint receivedAt);

}  // namespace osmosis::autoscaler
