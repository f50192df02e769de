#pragma once

// Publishes a request's results events (events.hpp) to osmosis.results.<id>, and knows which
// requests are in flight in this pod (for the local endpoint). Steps (delivered, retry,
// progress) are core NATS publishes: a stream capturing the subject stores them, and nothing
// waits. Final events (result, failed) are JetStream publishes that wait for the stream's
// PubAck, with Nats-Msg-Id = finalEventMsgId(id), so a message is settled only after its final
// event is stored, and a redelivery's second copy is deduplicated.
// Every publish goes on the one shared connection, so a request's events reach the server in
// the order they were published.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
#include "sidecar/config.hpp"
#include "sidecar/results/events.hpp"
#include "sidecar/results/local_endpoint.hpp"
#include "sidecar/state.hpp"

namespace osmosis::sidecar::results {

class Publisher : public LocalSink {
 public:
  Publisher(const Config& config, State& state, std::shared_ptr<nats::Connection> conn);

  // The request id a message's events go to, or nullopt (no id, or one refused: logged once
  // per kind and counted in osmosis_sidecar_results_refused_ids_total).
  std::optional<std::string> requestIdOf(const nats::Headers& headers);

  // A step event (core publish); a failure is logged and counted, never fatal.
  void step(const std::string& requestId, const char* event, const std::string& body);
  // A final event, stored (PubAck) or the error.
  Status final(const std::string& requestId, const char* event, const std::string& body);

  // The largest message the server takes (0: unknown).
  size_t maxPayload() const;

  // In flight: from the delivery's start until the app's answer (or the delivery's failure).
  void enter(const std::string& requestId);
  void leave(const std::string& requestId);

  // LocalSink
  bool natsUp() const override;
  Status publish(const std::string& subject, std::string_view data,
                 const nats::Headers& headers) override;
  Status publishProgress(const std::string& requestId, const std::string& event) override;

 private:
  const Config& config_;
  State& state_;
  std::shared_ptr<nats::Connection> conn_;
  std::mutex jsMu_;
  std::optional<nats::JetStream> js_;
  mutable std::mutex mu_;
  std::map<std::string, int> inFlight_;  // id -> deliveries in flight (a redelivery may overlap)
  std::set<RequestIdCheck::Verdict> warned_;
};

}  // namespace osmosis::sidecar::results
