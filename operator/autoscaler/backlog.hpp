#pragma once

// Backlog from the signals at hand: which reports are live, whose figures to believe, and how
// much of the consumer's ack-pending count is real work.
//
//  - A report (or consumer read) is fresh when it is at most `staleness` old. One stamped in
//    the future by at most `staleness` counts as fresh now; one further ahead is ignored
//    (a caller bug; trusting it would keep it "fresh" for that long).
//  - Several pods report the same consumer read at different moments, so their figures
//    disagree. The freshest report wins (it is the latest read of one quantity); on equal
//    timestamps the larger pending, then the larger ack-pending, wins (scale-up errs high).
//    With no fresh figures from pods, the operator's own fresh consumer read is used. When
//    both are fresh, reports may add detail but never hide work (each figure is at least the
//    operator's own read) nor invent it (no figure above the messages the stream held): a
//    spoofed or broken report can neither hold a busy channel down nor scale an idle one up.
//  - Ack-pending is counted only as far as live pods hold messages in flight. The rest was
//    delivered to a pod that is gone, is waiting for redelivery after a nak, or is a count
//    NATS never clears (nats-server #6093); live pods pull it again anyway, and counting it
//    would block scale-to-zero forever. With no live pod, all of it counts (it is work that
//    needs a pod) except the uncounted part last seen while pods were live (`staleAckBaseline`):
//    without that, a stale count would wake the target from zero over and over.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "operator/autoscaler/signals.hpp"

namespace osmosis::autoscaler {

enum class Freshness { kFresh, kStale, kFuture };

Freshness freshness(TimePoint stamped, TimePoint now, std::chrono::milliseconds staleness);

struct LiveReports {
  std::vector<const PodReport*> live;  // fresh, one per pod (the newest), in input order
  int stale = 0;                       // ignored: too old
  int future = 0;                      // ignored: stamped too far after now
};

// The pointers point into `reports`.
LiveReports selectLive(const std::vector<PodReport>& reports, TimePoint now,
                       std::chrono::milliseconds staleness);

enum class BacklogSource { kNone, kReports, kConsumerInfo };

struct Backlog {
  BacklogSource source = BacklogSource::kNone;  // kNone: no fresh figures at all
  std::string figuresFrom;                      // the pod whose figures were used (kReports)
  uint64_t pending = 0;
  int64_t ackPending = 0;           // as NATS reported it
  int64_t inFlight = 0;             // the ack-pending counted as backlog
  int64_t uncountedAckPending = 0;  // ack-pending held by no live pod
  int64_t redelivered = 0;
  int64_t heldByLivePods = 0;  // the sum of the live pods' in-flight
  uint64_t total = 0;          // pending + inFlight: what scaling uses
  int livePods = 0;
  int staleReports = 0;
  int futureReports = 0;
  bool boundedByStream = false;  // report figures were above the stream's size
};

Backlog estimateBacklog(const LiveReports& reports, const std::optional<ConsumerSnapshot>& consumer,
                        TimePoint now, std::chrono::milliseconds staleness,
                        int64_t staleAckBaseline);

const char* sourceName(BacklogSource source);

// "backlog 560 (pending 500, in flight 60)", plus the uncounted ack-pending when there is some.
std::string describe(const Backlog& backlog);

}  // namespace osmosis::autoscaler
