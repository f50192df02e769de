#pragma once

// The state of every stream behind one NATS client, listed at most once per period
// ($JS.API.STREAM.LIST, 256 streams a page) and shared by every Channel scaler using that
// client. With it a scaler takes its stream's figures (last sequence, messages) from the list
// instead of a STREAM.INFO per Channel, and in lag mode reads its consumer only when the stream
// moved (channel_scaler.cpp): at rest that was two JetStream calls per Channel per second, 42
// per 30 s at 500 Channels (hack/bench/load).
//
// Leaderless entries are left out (a cluster electing answers zeroed figures) and so are
// streams the server could not answer for: callers read those themselves. An error is kept
// for the period like a list (callers then read directly; without it every caller would queue
// behind one more timed-out list while NATS is away). One list at a time per client; callers
// arriving while it runs wait for it and share it.
//
// An account can hold far more streams than Channels (other applications, KV buckets): a list
// is worth it only while it is not much longer than what its callers want (at most
// kListWorthIt x the streams asked for in the last 30 s, plus a page). Past that, get() answers
// an Unavailable error for 30 s and the callers read their own streams, as before the list.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/metrics/registry.hpp"
#include "common/nats/client.hpp"
#include "common/util/result.hpp"
#include "operator/autoscaler/signals.hpp"
#include "operator/kube/util/clock.hpp"

namespace osmosis::autoscaler {

class StreamStates {
 public:
  struct Listing {
    TimePoint listedAt;  // asked for then: every figure is at least this recent
    std::map<std::string, nats::StreamState, std::less<>> byName;
  };

  // Each list counts in osmosis_nats_calls_total{op="stream.list"} (one per 256 streams).
  StreamStates(const kube::Clock& clock, std::chrono::milliseconds maxAge,
               metrics::Registry& metrics)
      : clock_(clock), maxAge_(maxAge), metrics_(metrics) {}

  static constexpr size_t kListWorthIt = 4;
  static constexpr std::chrono::seconds kAskedMemory{30};  // and how long a verdict holds

  // The client's streams, listed at most maxAge ago; `stream` is the one the caller wants.
  Result<std::shared_ptr<const Listing>> get(const std::shared_ptr<nats::Client>& client,
                                             const std::string& stream);

 private:
  struct Entry {
    std::weak_ptr<nats::Client> client;  // (a new client at a freed one's address starts afresh)
    std::shared_ptr<const Listing> listing;
    std::optional<Error> error;
    TimePoint validUntil{};                  // of the listing or the error
    std::map<std::string, TimePoint> asked;  // stream -> when a caller last wanted it
    bool wasteful = false;                   // the last list was far longer than wanted
    std::shared_ptr<std::mutex> listingNow = std::make_shared<std::mutex>();
  };
  // The entry's outcome while it is valid.
  static std::optional<Result<std::shared_ptr<const Listing>>> fresh(const Entry& e, TimePoint now);

  const kube::Clock& clock_;
  const std::chrono::milliseconds maxAge_;
  metrics::Registry& metrics_;
  std::mutex mu_;  // the map only: lists are made outside it
  std::map<const nats::Client*, Entry> byClient_;
};

}  // namespace osmosis::autoscaler
