#pragma once

// What the sidecar's threads share: counters (also exported as Prometheus metrics), readiness
// flags, liveness heartbeats and the last error. All atomics or behind a small mutex.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "common/metrics/registry.hpp"
#include "common/util/backoff.hpp"
#include "sidecar/report/rate.hpp"

namespace osmosis::sidecar {

class State {
 public:
  State();

  metrics::Registry registry;
  metrics::Counter& delivered;
  metrics::Counter& acked;
  metrics::Counter& nakked;
  metrics::Counter& termed;
  metrics::Counter& deadLettered;
  metrics::Counter& deadLetterFailures;  // dead-letter publishes that failed (then retried)
  metrics::Gauge& deadLetterHeld;        // messages held while their dead-letter publish fails
  metrics::Counter& pullErrors;
  metrics::Counter& settleErrors;
  metrics::Counter& reportsPublished;
  metrics::Counter& reportErrors;
  metrics::Gauge& inFlightGauge;
  metrics::Gauge& readyGauge;
  metrics::Histogram& latency;
  // Results events (--results).
  metrics::Counter& resultsPublished;
  metrics::Counter& resultsFailures;
  metrics::Counter& resultsRefusedIds;
  metrics::Gauge& resultsHeld;

  std::atomic<bool> natsConnected{false};
  std::atomic<bool> consumerBound{false};
  std::atomic<bool> appReachable{false};

  // The one readiness rule (/readyz and reports): NATS connected, the consumer bound, and in
  // dispatch mode the app accepting connections.
  bool ready(bool natsUp, bool dispatchMode) const {
    return natsUp && consumerBound.load() && (!dispatchMode || appReachable.load());
  }

  // processed: acked after 2xx; failed: nakked or termed.
  uint64_t processed() const { return acked.value(); }
  uint64_t failed() const { return nakked.value() + termed.value(); }
  int64_t inFlight() const { return inFlight_.load(); }
  void enterFlight();
  void leaveFlight();
  double takeBusyFraction();

  // Liveness: loops call beat(); /healthz fails when a registered loop is silent too long.
  enum class Loop { kPuller = 0, kReporter = 1 };
  void beat(Loop loop);
  void stopWatching(Loop loop);
  // Empty when every watched loop beat within `limit`; else which one is wedged.
  std::string wedged(std::chrono::steady_clock::duration limit) const;

  void setError(std::string error);
  std::string error() const;

 private:
  std::atomic<int64_t> inFlight_{0};
  std::atomic<int64_t> beats_[2] = {0, 0};  // steady ns; 0: not watched
  mutable std::mutex mu_;
  BusyMeter busy_;
  std::string error_;
};

}  // namespace osmosis::sidecar
