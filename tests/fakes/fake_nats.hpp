#pragma once

// An in-memory stand-in for the operator's NATS client (common/nats/client.hpp), for unit
// tests of the Channel controller and the autoscaler. Streams and consumers are kept as the
// server would report them; tests publish, set consumer figures, make the server refuse or go
// away, and count calls. Subscriptions get what is published on subjects they match,
// synchronously on the publishing thread. Not a NATS server: integration tests use real ones.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/nats/client.hpp"

namespace osmosis::testing {

class FakeNats final : public nats::Client {
 public:
  Result<nats::StreamInfo> addStream(const nats::StreamConfig& config) override;
  Result<nats::StreamInfo> updateStream(const nats::StreamConfig& config) override;
  Result<nats::StreamInfo> streamInfo(const std::string& name) override;
  Status deleteStream(const std::string& name) override;
  Result<std::vector<nats::StreamInfo>> listStreams() override;
  Result<nats::ConsumerInfo> addOrUpdateConsumer(const std::string& stream,
                                                 const nats::ConsumerConfig& config) override;
  Result<nats::ConsumerInfo> consumerInfo(const std::string& stream,
                                          const std::string& consumer) override;
  Status deleteConsumer(const std::string& stream, const std::string& consumer) override;
  Result<std::unique_ptr<nats::Listening>> subscribe(const std::string& subject,
                                                     Handler handler) override;

  // A message arrives: stored by the stream whose subjects match (its consumers' pending grows)
  // and handed to matching subscriptions.
  void publish(const std::string& subject, const std::string& data = "");
  // Sets a consumer's figures as the server would report them.
  void setConsumerFigures(const std::string& stream, const std::string& consumer, uint64_t pending,
                          int64_t ackPending);
  // Changes the server's copy behind the operator's back (drift).
  void editStream(const nats::StreamConfig& config);
  void editConsumer(const std::string& stream, const nats::ConsumerConfig& config);

  // Failure modes.
  bool unavailable = false;           // every call fails as if NATS were away
  bool refuseConsumerUpdate = false;  // updating an existing consumer fails (immutable field)
  std::function<void()> duringList;   // runs inside listStreams (a slow list: move a clock)
  // Creating a stream of one of these names fails as the server refuses overlapping subjects.
  std::set<std::string> refuseStreamCreate;

  int calls(const std::string& op) const;  // "stream.create", "consumer.info", ...
  bool hasStream(const std::string& name) const;
  bool hasConsumer(const std::string& stream, const std::string& consumer) const;
  size_t subscriptions() const;

 private:
  struct Sub {
    std::string subject;
    Handler handler;
    bool alive = true;
  };
  class Handle;
  Error down(const std::string& doing) const;
  void count(const std::string& op);

  mutable std::mutex mu_;
  std::map<std::string, nats::StreamInfo> streams_;
  std::map<std::pair<std::string, std::string>, nats::ConsumerInfo> consumers_;
  std::vector<std::shared_ptr<Sub>> subs_;
  std::map<std::string, int> calls_;
};

}  // namespace osmosis::testing
