#include "operator/autoscaler/backlog.hpp"

#include <algorithm>
#include <limits>
#include <map>

namespace osmosis::autoscaler {
namespace {

uint64_t saturatingAdd(uint64_t a, uint64_t b) {
  return b > std::numeric_limits<uint64_t>::max() - a ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

int64_t saturatingAdd(int64_t a, int64_t b) {  // both >= 0
  return b > std::numeric_limits<int64_t>::max() - a ? std::numeric_limits<int64_t>::max() : a + b;
}

// Whether `a` is the better source of figures than `b` (see the header).
bool preferFigures(const PodReport& a, const PodReport& b) {
  if (a.receivedAt != b.receivedAt) return a.receivedAt > b.receivedAt;
  if (a.consumer->pending != b.consumer->pending) return a.consumer->pending > b.consumer->pending;
  return a.consumer->ackPending > b.consumer->ackPending;
}

}  // namespace

Freshness freshness(TimePoint stamped, TimePoint now, std::chrono::milliseconds staleness) {
  if (stamped > now) return stamped - now <= staleness ? Freshness::kFresh : Freshness::kFuture;
  return now - stamped <= staleness ? Freshness::kFresh : Freshness::kStale;
}

LiveReports selectLive(const std::vector<PodReport>& reports, TimePoint now,
                       std::chrono::milliseconds staleness) {
  LiveReports out;
  std::map<std::string, size_t> slotByPod;  // index into out.live
  for (const auto& report : reports) {
    switch (freshness(report.receivedAt, now, staleness)) {
      case Freshness::kStale:
        ++out.stale;
        continue;
      case Freshness::kFuture:
        ++out.future;
        continue;
      case Freshness::kFresh:
        break;
    }
    auto [it, inserted] = slotByPod.emplace(report.pod, out.live.size());
    if (inserted) {
      out.live.push_back(&report);
    } else if (report.receivedAt >= out.live[it->second]->receivedAt) {
      out.live[it->second] = &report;  // the newest of one pod's reports; on a tie the later one
    }
  }
  return out;
}

Backlog estimateBacklog(const LiveReports& reports, const std::optional<ConsumerSnapshot>& consumer,
                        TimePoint now, std::chrono::milliseconds staleness,
                        int64_t staleAckBaseline) {
  Backlog b;
  b.livePods = static_cast<int>(reports.live.size());
  b.staleReports = reports.stale;
  b.futureReports = reports.future;

  const PodReport* best = nullptr;
  for (const PodReport* r : reports.live) {
    b.heldByLivePods = saturatingAdd(b.heldByLivePods, std::max<int64_t>(0, r->inFlight));
    if (r->consumer && (best == nullptr || preferFigures(*r, *best))) best = r;
  }

  const bool ownFresh =
      consumer && freshness(consumer->readAt, now, staleness) == Freshness::kFresh;
  ConsumerCounts counts;
  if (best != nullptr) {
    b.source = BacklogSource::kReports;
    b.figuresFrom = best->pod;
    counts = *best->consumer;
    if (ownFresh) {
      // Reports may add detail, never invent work (no more than the stream held) and never
      // hide it (no less than the operator's own fresh read).
      if (consumer->streamMessages) {
        const uint64_t held = *consumer->streamMessages;
        const auto heldSigned =
            static_cast<int64_t>(std::min<uint64_t>(held, std::numeric_limits<int64_t>::max()));
        b.boundedByStream = counts.pending > held || counts.ackPending > heldSigned;
        counts.pending = std::min(counts.pending, held);
        counts.ackPending = std::min(counts.ackPending, heldSigned);
      }
      counts.pending = std::max(counts.pending, consumer->counts.pending);
      counts.ackPending = std::max(counts.ackPending, consumer->counts.ackPending);
    }
  } else if (ownFresh) {
    b.source = BacklogSource::kConsumerInfo;
    counts = consumer->counts;
  } else {
    return b;
  }

  b.pending = counts.pending;
  b.ackPending = std::max<int64_t>(0, counts.ackPending);
  b.redelivered = std::max<int64_t>(0, counts.redelivered);
  if (b.livePods > 0) {
    b.inFlight = std::min(b.ackPending, b.heldByLivePods);
  } else {
    b.inFlight = b.ackPending - std::min(b.ackPending, std::max<int64_t>(0, staleAckBaseline));
  }
  b.uncountedAckPending = b.ackPending - b.inFlight;
  b.total = saturatingAdd(b.pending, static_cast<uint64_t>(b.inFlight));
  return b;
}

const char* sourceName(BacklogSource source) {
  switch (source) {
    case BacklogSource::kNone:
      return "none";
    case BacklogSource::kReports:
      return "reports";
    case BacklogSource::kConsumerInfo:
      return "consumer-info";
  }
  return "unknown";
}

std::string describe(const Backlog& b) {
  std::string s = "backlog " + std::to_string(b.total) + " (pending " + std::to_string(b.pending) +
                  ", in flight " + std::to_string(b.inFlight);
  if (b.boundedByStream) s += ", report figures above the stream's size ignored";
  if (b.uncountedAckPending > 0) {
    s += ", " + std::to_string(b.uncountedAckPending) + " ack-pending held by no live pod ignored";
  }
  return s + ")";
}

}  // namespace osmosis::autoscaler
