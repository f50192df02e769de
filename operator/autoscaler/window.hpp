#pragma once

// The scale-down stabilization window: the largest recommendation of the last `length`
// (Kubernetes HPA semantics). Evaluations run on every report, so this keeps only the entries
// that can still be the largest (a monotonic queue): memory is bounded by the number of
// distinct falling values, not by the evaluation rate.

#include <chrono>
#include <deque>
#include <optional>

#include "operator/autoscaler/signals.hpp"

namespace osmosis::autoscaler {

class StabilizationWindow {
 public:
  explicit StabilizationWindow(std::chrono::seconds length) : length_(length) {}

  // `at` must not go back (the engine keeps its time monotonic).
  void add(TimePoint at, int replicas);

  // The largest recommendation stamped within [now - length, now]; empty when none is.
  std::optional<int> largest(TimePoint now);

  void setLength(std::chrono::seconds length) { length_ = length; }
  void clear() { entries_.clear(); }
  std::chrono::seconds length() const { return length_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    TimePoint at;
    int replicas = 0;
  };
  void dropOlderThan(TimePoint now);

  std::chrono::seconds length_;
  std::deque<Entry> entries_;  // replicas strictly falling front to back, times rising
};

}  // namespace osmosis::autoscaler
