#pragma once

// Where sidecar reports land between the NATS callback thread and the autoscaler's loop: the
// latest valid report of each pod of one Channel, stamped with the operator's steady clock on
// arrival. Malformed reports, and reports naming another Channel than their subject, are
// counted and dropped (a sidecar cannot speak for another channel); a pod's final report
// removes it at once (its in-flight messages are settled).

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/report/report.hpp"
#include "operator/autoscaler/signals.hpp"

namespace osmosis::autoscaler {

struct InboxStats {
  uint64_t accepted = 0;
  uint64_t malformed = 0;
  uint64_t mismatched = 0;  // valid, but for another namespace/channel than the subject's
  std::string lastProblem;
};

class ReportInbox {
 public:
  ReportInbox(std::string ns, std::string channel)
      : ns_(std::move(ns)), channel_(std::move(channel)) {}

  // From the subscription callback. Returns true when the report was taken.
  bool offer(std::string_view data, TimePoint receivedAt);

  // The latest report of every pod, dropping pods silent for longer than `forget` (a pod
  // that went away without a final report).
  std::vector<PodReport> snapshot(TimePoint now, std::chrono::milliseconds forget);

  // True once since the last call when a report arrived (evaluate soon).
  bool takeDirty() { return dirty_.exchange(false); }
  // When the newest report arrived (for decision latency); epoch if none.
  TimePoint lastArrival() const;

  InboxStats stats() const;

 private:
  const std::string ns_;
  const std::string channel_;
  mutable std::mutex mu_;
  std::map<std::string, PodReport> pods_;
  TimePoint lastArrival_{};
  InboxStats stats_;
  std::atomic<bool> dirty_{false};
};

// Pure: a parsed report -> what the engine needs.
PodReport toPodReport(const report::Report& r, TimePoint receivedAt);

}  // namespace osmosis::autoscaler
