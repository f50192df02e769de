#pragma once

// What one pod takes at capacity, from the operator's consumer reads, for when no pod reports
// (sidecars whose reports do not arrive). Without it the engine stays in lag mode, which scales
// on the backlog alone and oscillates under steady load (issue 13, item 4).
//
// A run is a series of reads that each show messages waiting undelivered (num_pending > 0: the
// pods take all they can) with the same replicas, none scaled up within Tuning::startupGrace
// before it (all have started; a scale-down leaves started pods). Once a run has lasted
// minThroughputSpan, what the pods finished over it (the stream's growth minus the growth of
// num_pending and num_ack_pending) per second and per replica is the measurement; the run
// restarts after maxThroughputSpan, so it follows change. Finished, not delivered: pods filling
// their in-flight would read as capacity. A stale num_ack_pending (nats-server #6093) stays
// put, so it changes the difference little. Replicas asked for that never run (unschedulable
// pods) read as slower pods: more replicas, never fewer.

#include <cstdint>
#include <optional>

#include "operator/autoscaler/policy.hpp"
#include "operator/autoscaler/signals.hpp"

namespace osmosis::autoscaler {

class ConsumerThroughput {
 public:
  explicit ConsumerThroughput(const Tuning& tuning) : tuning_(tuning) {}

  // Feeds one consumer read taken at `at`, with the replicas asked for then and their last
  // scale-up. A read not newer than the previous one is ignored. Returns the per-pod rate when
  // this read completes a run of at least minThroughputSpan. A read with the same figures as the
  // previous one (a restamped read) is ignored too.
  std::optional<double> observe(const ConsumerSnapshot& read, TimePoint at, int replicas,
                                std::optional<TimePoint> lastScaleUpAt);

 private:
  struct Figures {
    uint64_t sequence = 0;  // the stream's last sequence
    uint64_t pending = 0;
    int64_t ackPending = 0;
    bool operator==(const Figures&) const = default;
  };
  struct Run {
    TimePoint startAt;
    Figures start;
    int replicas = 0;
  };

  Tuning tuning_;
  std::optional<Run> run_;
  std::optional<TimePoint> lastAt_;
  std::optional<Figures> lastFigures_;
};

}  // namespace osmosis::autoscaler
