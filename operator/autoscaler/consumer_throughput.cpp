#include "operator/autoscaler/consumer_throughput.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace osmosis::autoscaler {

std::optional<double> ConsumerThroughput::observe(const ConsumerSnapshot& read, TimePoint at,
                                                  int replicas,
                                                  std::optional<TimePoint> lastScaleUpAt) {
  if (lastAt_ && at <= *lastAt_) return std::nullopt;
  const int64_t ackPending = std::max<int64_t>(0, read.counts.ackPending);
  const Figures figures{read.streamLastSequence, read.counts.pending, ackPending};
  // The same figures again: the operator restamps its last consumer read while the stream has
  // not moved (channel_scaler.cpp), so they say nothing about this instant.
  if (lastFigures_ && figures == *lastFigures_) return std::nullopt;
  lastAt_ = at;
  lastFigures_ = figures;
  const bool started = !lastScaleUpAt || at - *lastScaleUpAt >= tuning_.startupGrace;
  if (read.counts.pending == 0 || replicas <= 0 || !started) {
    run_.reset();
    return std::nullopt;
  }
  const Run here{at, figures, replicas};
  // A new run: none yet, other replicas, or the stream went back (recreated).
  if (!run_ || run_->replicas != replicas || figures.sequence < run_->start.sequence) {
    run_ = here;
    return std::nullopt;
  }
  const auto span = at - run_->startAt;
  if (span < tuning_.minThroughputSpan) return std::nullopt;
  const Figures& start = run_->start;
  const double finished =
      static_cast<double>(figures.sequence - start.sequence) -
      (static_cast<double>(figures.pending) - static_cast<double>(start.pending)) -
      static_cast<double>(figures.ackPending - start.ackPending);
  const double rate =
      finished / std::chrono::duration<double>(span).count() / static_cast<double>(replicas);
  if (span >= tuning_.maxThroughputSpan) run_ = here;
  // Nothing finished while messages waited: the pods are stuck, not a measure of capacity.
  if (!std::isfinite(rate) || rate <= 0) return std::nullopt;
  return rate;
}

}  // namespace osmosis::autoscaler
