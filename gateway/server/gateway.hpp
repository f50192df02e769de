#pragma once

// The gateway's request handling (docs/gateway.md): routes, checks, publishes, and streams
// request events back. Everything it talks to comes in by constructor (the channel directory,
// the publishers' tokens, NATS, the results hub), so unit tests run it against fakes and the
// binary against the API server and NATS.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/http/server.hpp"
#include "common/metrics/registry.hpp"
#include "gateway/auth/request_token.hpp"
#include "gateway/bus/bus.hpp"
#include "gateway/channels/channel_directory.hpp"
#include "gateway/events/event_format.hpp"
#include "gateway/events/results_hub.hpp"
#include "gateway/server/work_pool.hpp"

namespace osmosis::gateway {

struct GatewayOptions {
  std::chrono::seconds maxWait{60};
  int maxStreamsPerClient = 16;
  std::chrono::milliseconds keepalive{15000};
  // An event stream that has sent nothing but keep-alives for this long is closed (the client
  // reconnects with Last-Event-ID and misses nothing).
  std::chrono::milliseconds streamIdleTimeout{std::chrono::minutes(10)};
  int sseRetryMs = 2000;
  int workers = 16;
  size_t maxQueued = 4096;
};

class Gateway {
 public:
  Gateway(GatewayOptions options, const ChannelDirectory& channels, TokenSource& tokens, Bus& bus,
          ResultsHub& hub, RequestSigner signer, metrics::Registry& registry);
  ~Gateway();

  void handle(http::Request&& req, http::Responder responder);
  size_t openStreams() const { return openStreams_.load(); }

 private:
  struct Opened;  // an open event stream
  void publish(http::Request&& req, const std::string& ns, const std::string& channel,
               http::Responder responder);
  void requestState(http::Request&& req, const std::string& id, bool result,
                    http::Responder responder);
  // Starts the SSE answer or accepts the WebSocket; registered for keep-alives and limits.
  std::shared_ptr<Opened> open(http::Request& req, http::Responder& responder);
  void requestEvents(http::Request&& req, const std::string& id, http::Responder responder);
  void channelEvents(http::Request&& req, const std::string& ns, const std::string& channel,
                     http::Responder responder);
  // The request's token is present and right; else answers 401/403 and returns false.
  bool tokenChecked(const http::Request& req, const std::string& id, http::Responder& r);
  // 401/403 unless the publisher's bearer token is accepted (or the channel is open).
  bool publisherChecked(const http::Request& req, const ChannelEntry& ch, http::Responder& r,
                        std::string* scope);
  std::optional<ChannelEntry> enabledChannel(const std::string& ns, const std::string& name,
                                             http::Responder& r);
  // One more stream for this client, or 429.
  bool admitStream(const std::string& peer, http::Responder& r);
  void releaseStream(const std::string& peer);
  static constexpr uint64_t kKeepaliveSlots = 15;
  std::chrono::milliseconds keepaliveStep() const;
  void keepaliveTick();
  void answer(http::Responder& r, http::Response res);
  void countAnswer(int status);
  // What a POST's publish outcome answers: 202 with the request, or the refusal (logged).
  // Records the publish latency since `arrived`.
  http::Response published(const ChannelEntry& ch, const std::string& id, int64_t backlog,
                           std::chrono::steady_clock::time_point arrived,
                           const Result<nats::PublishAck>& ack);

  const GatewayOptions options_;
  const ChannelDirectory& channels_;
  TokenSource& tokens_;
  Bus& bus_;
  ResultsHub& hub_;
  const RequestSigner signer_;
  metrics::Registry& registry_;
  metrics::Histogram& publishSeconds_;
  metrics::Gauge& openStreamsGauge_;

  std::mutex countersMu_;
  std::map<int, metrics::Counter*> answers_;
  std::mutex mu_;
  std::map<std::string, int> streamsByPeer_;
  std::map<uint64_t, std::weak_ptr<Opened>> opened_;
  uint64_t nextStream_ = 1;
  std::atomic<size_t> openStreams_{0};
  uint64_t keepaliveTicks_ = 0;  // (the timer's thread only)

  WorkPool work_;
  Timers timers_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace osmosis::gateway
