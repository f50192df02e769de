#include "operator/autoscaler/window.hpp"

namespace osmosis::autoscaler {

void StabilizationWindow::dropOlderThan(TimePoint now) {
  while (!entries_.empty() && now - entries_.front().at > length_)
    entries_.pop_front();
}

void StabilizationWindow::add(TimePoint at, int replicas) {
  // A newer entry at least as large outlives and outranks the older ones.
  while (!entries_.empty() && entries_.back().replicas <= replicas)
    entries_.pop_back();
  entries_.push_back({at, replicas});
  dropOlderThan(at);
}

std::optional<int> StabilizationWindow::largest(TimePoint now) {
  dropOlderThan(now);
  if (entries_.empty()) return std::nullopt;
  return entries_.front().replicas;
}

}  // namespace osmosis::autoscaler
