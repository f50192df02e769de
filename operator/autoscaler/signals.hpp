#pragma once

// What the autoscaler decides from: sidecar reports, the operator's own consumer-info reads,
// and the target's current replicas. Plain values; the caller stamps every one of them with
// the operator's steady clock when it arrives, so the engine never reads a clock itself.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace osmosis::autoscaler {

// The engine never reads a clock: every time it sees was passed in, on the steady clock.
using TimePoint = std::chrono::steady_clock::time_point;
using Duration = TimePoint::duration;

// The channel's durable consumer as NATS reports it (KEDA's figures).
struct ConsumerCounts {
  uint64_t pending = 0;     // num_pending: matching messages not yet delivered
  int64_t ackPending = 0;   // num_ack_pending: delivered, not yet acked (may be stale: #6093)
  int64_t redelivered = 0;  // num_redelivered (shown, not used to decide)
};

// One sidecar's latest report (common/report/report.hpp, docs/report-schema.md).
struct PodReport {
  std::string pod;
  TimePoint receivedAt;  // the operator's steady clock when the report arrived
  // The consumer as this sidecar last read it; absent when it could not (report `error`).
  std::optional<ConsumerCounts> consumer;
  int64_t inFlight = 0;     // messages this pod holds now (handed to the app, not settled)
  uint64_t processed = 0;   // acked since the sidecar started (a counter; resets on restart)
  double rate = 0;          // processed per second, smoothed by the sidecar
  double busyFraction = 0;  // share of the last interval with at least one message in flight
};

// The operator's own read of the consumer and its stream (used when no pod reports, and for
// the arrival rate at any time).
struct ConsumerSnapshot {
  ConsumerCounts counts;
  uint64_t streamLastSequence = 0;  // the stream's last sequence: grows by one per message
  TimePoint readAt;
  // Messages the stream held: no consumer can have more pending or ack-pending than that, so
  // report figures above it are bounded by it. Unset: not known (no bound).
  std::optional<uint64_t> streamMessages;
  // When the stream's figures (last sequence, messages) were read, when not with the consumer
  // (from the shared stream list, up to half a second older): the arrival rate's clock.
  std::optional<TimePoint> streamReadAt;
};

struct Inputs {
  // The latest report of each pod the caller knows (several per pod are allowed; the newest
  // wins). Stale ones may be left in: the engine ignores them.
  std::vector<PodReport> reports;
  std::optional<ConsumerSnapshot> consumer;
  int currentReplicas = 0;  // the target's spec.replicas as last observed (/scale)
};

}  // namespace osmosis::autoscaler
