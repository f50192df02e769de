#pragma once

// The Bus on a real NATS connection (common/nats). Backlog reads are cached for a second per
// consumer, so a burst of POSTs costs the server one consumer-info request per second.

#include <chrono>
#include <map>
#include <mutex>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
#include "common/nats/loop_publisher.hpp"
#include "gateway/bus/bus.hpp"

namespace osmosis::gateway {

class NatsBus final : public Bus {
 public:
  // `conn` for everything but the asynchronous publishes, which go through `publisher` (its
  // own connection, run by the HTTP server's threads).
  static Result<std::unique_ptr<NatsBus>> create(std::shared_ptr<nats::Connection> conn,
                                                 std::unique_ptr<nats::LoopPublisher> publisher);

  Result<nats::PublishAck> publish(const std::string& subject, std::string_view body,
                                   const nats::Headers& headers, const std::string& msgId) override;
  void publishAsync(const std::string& subject, std::string_view body, const nats::Headers& headers,
                    const std::string& msgId,
                    std::function<void(Result<nats::PublishAck>)> done) override;
  Result<int64_t> backlog(const std::string& stream, const std::string& consumer) override;
  std::optional<int64_t> cachedBacklog(const std::string& stream,
                                       const std::string& consumer) override;
  Result<std::optional<nats::StoredMessage>> next(const std::string& stream,
                                                  const std::string& subject,
                                                  uint64_t fromSequence) override;
  Result<std::optional<nats::StoredMessage>> last(const std::string& stream,
                                                  const std::string& subject) override;
  Result<uint64_t> firstSequence(const std::string& stream) override;
  Result<std::shared_ptr<void>> follow(const std::string& stream, const std::string& filterSubject,
                                       std::function<void(nats::StoredMessage)> onMessage) override;
  Result<std::shared_ptr<void>> subscribe(const std::string& subject,
                                          std::function<void(std::string)> onData) override;
  // Both connections: while the publishing one is away every POST would time out.
  bool connected() const override { return conn_->connected() && publisher_->connected(); }
  // Before the HTTP server stops: its threads run the publishing connection (LoopPublisher).
  void closePublisher() { publisher_->close(); }

 private:
  NatsBus(std::shared_ptr<nats::Connection> conn, nats::JetStream js,
          std::unique_ptr<nats::LoopPublisher> publisher)
      : conn_(std::move(conn)), js_(std::move(js)), publisher_(std::move(publisher)) {}
  std::shared_ptr<nats::Connection> conn_;
  nats::JetStream js_;
  std::unique_ptr<nats::LoopPublisher> publisher_;
  std::mutex mu_;
  struct Cached {
    int64_t backlog = 0;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Cached> backlogs_;
};

}  // namespace osmosis::gateway
