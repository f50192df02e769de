#include "gateway/server/gateway.hpp"

#include <vector>

#include "common/contract/gateway_contract.hpp"
#include "common/log/logger.hpp"
#include "common/util/json_text.hpp"
#include "gateway/api/headers.hpp"
#include "gateway/api/routes.hpp"
#include "gateway/backpressure/retry_after.hpp"
#include "gateway/events/result_response.hpp"

namespace osmosis::gateway {

namespace cg = contract::gateway;
using Clock = std::chrono::steady_clock;

namespace {

// Every refusal: a status, a JSON body with the reason, and whatever headers it needs.
http::Response refusal(int status, const std::string& reason, http::HeaderList headers = {}) {
  return http::Response{status, "application/json", dumpJson({{"error", reason}}) + "\n",
                        std::move(headers)};
}

http::HeaderList retryAfterHeader(std::chrono::seconds s) {
  return {{"Retry-After", std::to_string(s.count())}};
}

std::string eventsUrl(const std::string& id) {
  return "/v1/requests/" + id + "/events";
}

// 202: stored. The body says where to follow it and carries the token that allows it.
http::Response accepted(const std::string& id, const nats::PublishAck& ack,
                        const std::string& token) {
  http::Response r;
  r.status = 202;
  r.contentType = "application/json";
  r.body = dumpJson({{"id", id},
                     {"stream", ack.stream},
                     {"sequence", ack.sequence},
                     {"duplicate", ack.duplicate},
                     {"eventsUrl", eventsUrl(id)},
                     {"statusUrl", "/v1/requests/" + id},
                     {"token", token}}) +
           "\n";
  r.headers = {{"Location", "/v1/requests/" + id}, {cg::kHeaderRequestId, id}};
  return r;
}

// What a failed publish means to the client.
http::Response publishRefusal(const Error& e, const ChannelEntry& ch, int64_t backlog) {
  if (e.reason == "10077") {  // the stream is full and discards new messages
    const auto wait = retryAfter({backlog, ch.maxBacklog, ch.drainPerSecond});
    return refusal(429, "the channel's stream is full: " + e.message, retryAfterHeader(wait));
  }
  if (e.reason == "10054" || e.message.find("Maximum Payload") != std::string::npos ||
      e.message.find("payload") != std::string::npos)
    return refusal(413, "the message is larger than the channel accepts: " + e.message);
  if (e.code == Error::Code::kPermissionDenied)
    return refusal(503, "the gateway may not publish to this channel: " + e.message,
                   retryAfterHeader(std::chrono::seconds(30)));
  return refusal(503, "NATS did not store the message: " + e.message,
                 retryAfterHeader(std::chrono::seconds(2)));
}

// 429 when the channel has `backlog` waiting at or over its limit; nullopt when under it.
std::optional<http::Response> backlogRefusal(const ChannelEntry& ch, int64_t backlog) {
  if (ch.maxBacklog <= 0 || backlog < ch.maxBacklog) return std::nullopt;
  const auto after = retryAfter({backlog, ch.maxBacklog, ch.drainPerSecond});
  return refusal(429,
                 "the channel has " + std::to_string(backlog) + " messages waiting (limit " +
                     std::to_string(ch.maxBacklog) + "); retry after " +
                     std::to_string(after.count()) + " s",
                 retryAfterHeader(after));
}

nats::Headers messageHeaders(const std::string& id, const std::string& contentType) {
  nats::Headers headers{{cg::kHeaderRequestId, id}};
  if (!contentType.empty()) headers.emplace_back("Content-Type", contentType);
  return headers;
}

}  // namespace

// ---- an open event stream ----

struct Gateway::Opened {
  http::Stream out;
  bool webSocket = false;
  std::string peer;
  uint64_t key = 0;
  std::mutex mu;
  uint64_t lastSent = 0;
  bool replayed = false;
  bool done = false;
  std::vector<nats::StoredMessage> buffered;
  std::shared_ptr<void> listening;
  Clock::time_point lastActivity = Clock::now();

  void send(const Event& e) {  // (under mu)
    out.send(webSocket ? webSocketFrame(e) : sseFrame(e));
    lastActivity = Clock::now();
    if (e.final) {
      done = true;
      out.close();
    }
  }
  void live(const nats::StoredMessage& m) {
    std::lock_guard lock(mu);
    if (done) return;
    if (!replayed) {
      buffered.push_back(m);
      return;
    }
    if (m.sequence <= lastSent) return;
    lastSent = m.sequence;
    send(toEvent(m));
  }
};

Gateway::Gateway(GatewayOptions options, const ChannelDirectory& channels, TokenSource& tokens,
                 Bus& bus, ResultsHub& hub, RequestSigner signer, metrics::Registry& registry)
    : options_(options),
      channels_(channels),
      tokens_(tokens),
      bus_(bus),
      hub_(hub),
      signer_(std::move(signer)),
      registry_(registry),
      publishSeconds_(registry.histogram("osmosis_gateway_publish_seconds",
                                         "From a POST's arrival to the stream's acknowledgement")),
      openStreamsGauge_(registry.gauge("osmosis_gateway_open_streams",
                                       "Event streams open now (SSE and WebSocket)")),
      work_(options.workers, options.maxQueued) {
  timers_.at(Clock::now() + keepaliveStep(), [this] { keepaliveTick(); });
}

Gateway::~Gateway() {
  alive_->store(false);
}

void Gateway::answer(http::Responder& r, http::Response res) {
  countAnswer(res.status);
  r.respond(std::move(res));
}

void Gateway::countAnswer(int status) {
  // (the registry's lookup builds strings under a lock: done once per status, not per request)
  metrics::Counter* c = nullptr;
  {
    std::lock_guard lock(countersMu_);
    auto& slot = answers_[status];
    if (slot == nullptr)
      slot =
          &registry_.counter("osmosis_gateway_requests_total", "Requests answered, by HTTP status",
                             {{"code", std::to_string(status)}});
    c = slot;
  }
  c->inc();
}

http::Response Gateway::published(const ChannelEntry& ch, const std::string& id, int64_t backlog,
                                  Clock::time_point arrived, const Result<nats::PublishAck>& ack) {
  publishSeconds_.observe(std::chrono::duration<double>(Clock::now() - arrived).count());
  if (ack) return accepted(id, ack.value(), signer_.token(id));
  log::warn("publish refused",
            {{"namespace", ch.ns}, {"channel", ch.name}, {"error", ack.error().message}});
  return publishRefusal(ack.error(), ch, backlog);
}

void Gateway::handle(http::Request&& req, http::Responder responder) {
  const Route route = gateway::route(req.method, req.path());
  switch (route.verdict) {
    case Route::Verdict::kNotFound:
      return answer(responder, refusal(404, route.problem));
    case Route::Verdict::kBadName:
      return answer(responder, refusal(404, route.problem));
    case Route::Verdict::kMethodNotAllowed:
      return answer(responder, refusal(405, "use " + route.allow, {{"Allow", route.allow}}));
    case Route::Verdict::kMatched:
      break;
  }
  if (!channels_.ready())
    return answer(responder, refusal(503, "the gateway has not read the Channels yet",
                                     retryAfterHeader(std::chrono::seconds(1))));
  switch (route.endpoint) {
    case Endpoint::kPublish:
      return publish(std::move(req), route.ns, route.channel, responder);
    case Endpoint::kChannelEvents:
      return channelEvents(std::move(req), route.ns, route.channel, responder);
    case Endpoint::kRequestStatus:
      return requestState(std::move(req), route.requestId, false, responder);
    case Endpoint::kRequestResult:
      return requestState(std::move(req), route.requestId, true, responder);
    case Endpoint::kRequestEvents:
      return requestEvents(std::move(req), route.requestId, responder);
  }
}

std::optional<ChannelEntry> Gateway::enabledChannel(const std::string& ns, const std::string& name,
                                                    http::Responder& r) {
  auto ch = channels_.find(ns, name);
  if (!ch || !ch->enabled) {
    answer(r, refusal(404, "no Channel " + ns + "/" + name + " with spec.gateway.enabled"));
    return std::nullopt;
  }
  return ch;
}

bool Gateway::publisherChecked(const http::Request& req, const ChannelEntry& ch, http::Responder& r,
                               std::string* scope) {
  if (ch.publishersSecret.empty()) return true;
  const std::string given = bearerToken(req.header("Authorization"));
  if (given.empty()) {
    answer(r, refusal(401, "this channel needs a bearer token (Authorization: Bearer ...)",
                      {{"WWW-Authenticate", "Bearer realm=\"osmosis\""}}));
    return false;
  }
  auto accepted = tokens_.tokens(ch.ns, ch.publishersSecret);
  if (!accepted) {
    log::warn("cannot read a channel's publishers Secret", {{"namespace", ch.ns},
                                                            {"channel", ch.name},
                                                            {"secret", ch.publishersSecret},
                                                            {"error", accepted.error().message}});
    answer(r, refusal(503, "the gateway cannot read this channel's publishers Secret",
                      retryAfterHeader(std::chrono::seconds(5))));
    return false;
  }
  bool ok = false;
  for (const auto& t : accepted.value())
    ok = constantTimeEquals(t, given) || ok;
  if (!ok) {
    answer(r, refusal(403, "this bearer token may not publish to this channel"));
    return false;
  }
  if (scope != nullptr) *scope = publisherScope(given);
  return true;
}

bool Gateway::tokenChecked(const http::Request& req, const std::string& id, http::Responder& r) {
  std::string token = queryParam(req.target, "token");
  if (token.empty()) token = req.header("Osmosis-Request-Token");
  if (token.empty()) token = bearerToken(req.header("Authorization"));
  if (token.empty()) {
    answer(r, refusal(401,
                      "reading a request needs its token (from the 202 answer): "
                      "?token=... or the Osmosis-Request-Token header"));
    return false;
  }
  if (!signer_.tokenMatches(id, token)) {
    answer(r, refusal(403, "this token is not the request's"));
    return false;
  }
  return true;
}

// ---- POST .../messages ----

void Gateway::publish(http::Request&& req, const std::string& ns, const std::string& name,
                      http::Responder responder) {
  const auto arrived = Clock::now();
  auto ch = enabledChannel(ns, name, responder);
  if (!ch) return;
  std::string scope;
  if (!publisherChecked(req, *ch, responder, &scope)) return;
  if (ch->maxMessageBytes > 0 && req.body.size() > static_cast<size_t>(ch->maxMessageBytes))
    return answer(responder, refusal(413, "the message has " + std::to_string(req.body.size()) +
                                              " bytes; the channel takes at most " +
                                              std::to_string(ch->maxMessageBytes)));
  std::string id;
  if (req.hasHeader("Idempotency-Key")) {  // (present but empty is malformed, not absent)
    std::string problem;
    auto key = parseIdempotencyKey(req.header("Idempotency-Key"), &problem);
    if (!key) return answer(responder, refusal(400, problem));
    id = cg::formatRequestId(ns, name, signer_.idempotentIdPart(ns, name, scope, *key));
  } else {
    id = cg::formatRequestId(ns, name, RequestSigner::randomIdPart());
  }
  const auto wait = preferWait(req.header("Prefer"), options_.maxWait);
  const bool waits = wait && wait->count() > 0;

  // The common case on this thread, holding none: the backlog known from the last second, no
  // Prefer: wait; the stream's acknowledgement answers the client from NATS' thread.
  const auto known =
      ch->maxBacklog > 0 ? bus_.cachedBacklog(ch->stream, ch->consumer) : std::optional<int64_t>(0);
  if (!waits && known) {
    if (auto over = backlogRefusal(*ch, *known)) return answer(responder, std::move(*over));
    bus_.publishAsync(ch->publishSubject, req.body, messageHeaders(id, req.header("Content-Type")),
                      id,
                      [this, alive = alive_, ch = *ch, id, arrived, backlog = *known,
                       responder](Result<nats::PublishAck> ack) mutable {
                        if (!alive->load()) return;
                        answer(responder, published(ch, id, backlog, arrived, ack));
                      });
    return;
  }

  auto job = [this, alive = alive_, ch = *ch, id, wait, arrived, responder,
              contentType = req.header("Content-Type"), body = std::move(req.body)]() mutable {
    if (!alive->load()) return;
    int64_t backlog = 0;
    if (ch.maxBacklog > 0) {
      auto b = bus_.backlog(ch.stream, ch.consumer);
      if (!b) {
        return answer(responder,
                      refusal(503, "cannot read the channel's backlog: " + b.error().message,
                              retryAfterHeader(std::chrono::seconds(2))));
      }
      backlog = b.value();
      if (auto over = backlogRefusal(ch, backlog)) return answer(responder, std::move(*over));
    }
    // Prefer: wait: listen before publishing, so the outcome cannot slip past.
    struct Waiting {
      std::mutex mu;
      bool answered = false;
      std::optional<http::Response> onTimeout;
      std::shared_ptr<void> listening;
    };
    auto waiting = std::make_shared<Waiting>();
    const std::string subject = cg::resultsSubject(id);
    if (wait && wait->count() > 0) {
      auto l = hub_.listen(ch.resultsStream, subject,
                           [this, waiting, responder, id](const nats::StoredMessage& m) mutable {
                             auto res = resultResponse(m);
                             if (!res) return;
                             std::lock_guard lock(waiting->mu);
                             if (waiting->answered) return;
                             waiting->answered = true;
                             res->headers.emplace_back(cg::kHeaderRequestId, id);
                             res->headers.emplace_back("Preference-Applied", "wait");
                             answer(responder, std::move(*res));
                             work_.submit([w = waiting] { w->listening.reset(); });
                           });
      if (l) {
        waiting->listening = std::move(l.value());
      } else {
        // Without the listener the POST still works: it answers 202 at once.
        log::warn("cannot follow the results stream; answering Prefer: wait with 202",
                  {{"stream", ch.resultsStream}, {"error", l.error().message}});
      }
    }
    auto ack = bus_.publish(ch.publishSubject, body, messageHeaders(id, contentType), id);
    http::Response res = published(ch, id, backlog, arrived, ack);
    if (!ack) {
      std::lock_guard lock(waiting->mu);
      waiting->answered = true;
      waiting->listening.reset();
      return answer(responder, std::move(res));
    }
    if (!waiting->listening) return answer(responder, std::move(res));
    std::lock_guard lock(waiting->mu);
    if (waiting->answered) return;
    waiting->onTimeout = std::move(res);
    timers_.at(Clock::now() + *wait, [this, waiting, responder]() mutable {
      std::lock_guard l(waiting->mu);
      if (waiting->answered) return;
      waiting->answered = true;
      answer(responder, std::move(*waiting->onTimeout));
      work_.submit([waiting] { waiting->listening.reset(); });
    });
  };
  if (!work_.submit(std::move(job)))
    answer(responder,
           refusal(503, "the gateway is overloaded", retryAfterHeader(std::chrono::seconds(1))));
}

// ---- GET /v1/requests/{id}[/result] ----

void Gateway::requestState(http::Request&& req, const std::string& id, bool result,
                           http::Responder responder) {
  if (!tokenChecked(req, id, responder)) return;
  const auto parsed = cg::parseRequestId(id);
  auto ch = enabledChannel(parsed->ns, parsed->channel, responder);
  if (!ch) return;
  const std::string queryToken = queryParam(req.target, "token");
  const std::string tokenQuery = queryToken.empty() ? "" : "?token=" + queryToken;
  auto job = [this, alive = alive_, ch = *ch, id, result, tokenQuery, responder]() mutable {
    if (!alive->load()) return;
    auto last = bus_.last(ch.resultsStream, cg::resultsSubject(id));
    if (!last)
      return answer(responder,
                    refusal(503, "cannot read the request's events: " + last.error().message,
                            retryAfterHeader(std::chrono::seconds(2))));
    const std::string self = "/v1/requests/" + id;
    if (result) {
      if (last.value()) {
        if (auto res = resultResponse(*last.value())) {
          res->headers.emplace_back(cg::kHeaderRequestId, id);
          return answer(responder, std::move(*res));
        }
      }
      return answer(responder,
                    refusal(404, "the request has no result yet; follow " + eventsUrl(id)));
    }
    nlohmann::json body{{"id", id}, {"eventsUrl", eventsUrl(id)}};
    if (!last.value()) {
      // Nothing published yet: accepted and waiting (or unknown, or its events expired).
      body["state"] = "accepted";
      return answer(responder, {200, "application/json", dumpJson(body) + "\n", {}});
    }
    const Event e = toEvent(*last.value());
    body["lastEvent"] = {
        {"id", e.id}, {"event", e.type}, {"data", nlohmann::json::parse(e.data, nullptr, false)}};
    if (e.final) {
      body["state"] = e.type == cg::kEventResult ? "succeeded" : "failed";
      // (a token given in the query travels on, so a client that follows the redirect can)
      return answer(responder, {303,
                                "application/json",
                                dumpJson(body) + "\n",
                                {{"Location", self + "/result" + tokenQuery}}});
    }
    body["state"] = e.type == cg::kEventRetry ? "retrying" : "in-progress";
    answer(responder, {200, "application/json", dumpJson(body) + "\n", {}});
  };
  if (!work_.submit(std::move(job)))
    answer(responder,
           refusal(503, "the gateway is overloaded", retryAfterHeader(std::chrono::seconds(1))));
}

// ---- event streams ----

bool Gateway::admitStream(const std::string& peer, http::Responder& r) {
  std::lock_guard lock(mu_);
  int& n = streamsByPeer_[peer];
  if (n >= options_.maxStreamsPerClient) {
    if (n == 0) streamsByPeer_.erase(peer);
    answer(r, refusal(429,
                      "this client has " + std::to_string(options_.maxStreamsPerClient) +
                          " event streams open already (the limit); close one first",
                      retryAfterHeader(std::chrono::seconds(5))));
    return false;
  }
  ++n;
  openStreamsGauge_.set(static_cast<double>(++openStreams_));
  log::debug("event stream opened", {{"peer", peer}, {"streamsOfPeer", n}});
  return true;
}

void Gateway::releaseStream(const std::string& peer) {
  std::lock_guard lock(mu_);
  auto it = streamsByPeer_.find(peer);
  if (it != streamsByPeer_.end() && --it->second <= 0) streamsByPeer_.erase(it);
  log::debug("event stream closed", {{"peer", peer}});
  openStreamsGauge_.set(static_cast<double>(--openStreams_));
}

std::shared_ptr<Gateway::Opened> Gateway::open(http::Request& req, http::Responder& responder) {
  auto o = std::make_shared<Opened>();
  o->webSocket = req.webSocketUpgrade;
  o->peer = req.peer;
  {
    std::lock_guard lock(mu_);
    o->key = nextStream_++;
    opened_[o->key] = o;
  }
  // Ends however the stream ends: the client went away, the final event, shutdown.
  auto onClosed = [this, alive = alive_, o] {
    if (!alive->load()) return;
    releaseStream(o->peer);
    {
      std::lock_guard lock(mu_);
      opened_.erase(o->key);
    }
    std::shared_ptr<void> listening;
    {
      std::lock_guard lock(o->mu);
      o->done = true;
      listening = std::move(o->listening);
    }
    // (Unsubscribing may wait for NATS: not on an HTTP thread.)
    if (listening && !work_.submit([l = std::move(listening)] {})) {
      log::warn("gateway work queue full; releasing a subscription inline");
    }
  };
  if (o->webSocket) {
    o->out = responder.acceptWebSocket([](std::string) {}, onClosed);
  } else {
    o->out = responder.stream(
        http::Response{200,
                       "text/event-stream",
                       "",
                       {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}}},
        onClosed);
    o->out.send(sseRetry(options_.sseRetryMs));
  }
  countAnswer(o->webSocket ? 101 : 200);
  return o;
}

void Gateway::requestEvents(http::Request&& req, const std::string& id, http::Responder responder) {
  if (!tokenChecked(req, id, responder)) return;
  const auto parsed = cg::parseRequestId(id);
  auto ch = enabledChannel(parsed->ns, parsed->channel, responder);
  if (!ch) return;
  uint64_t after = 0;
  std::string last = req.header("Last-Event-ID");
  if (last.empty()) last = queryParam(req.target, "lastEventId");
  if (!last.empty()) {
    auto n = parseLastEventId(last);
    if (!n)
      return answer(responder, refusal(400, "Last-Event-ID must be an event's id (a number)"));
    after = *n;
  }
  if (!admitStream(req.peer, responder)) return;
  auto job = [this, alive = alive_, ch = *ch, id, after, req = std::move(req),
              responder]() mutable {
    if (!alive->load()) return;
    const std::string subject = cg::resultsSubject(id);
    auto holder = std::make_shared<std::weak_ptr<Opened>>();
    auto l = hub_.listen(ch.resultsStream, subject, [holder](const nats::StoredMessage& m) {
      if (auto o = holder->lock()) o->live(m);
    });
    if (!l) {
      releaseStream(req.peer);
      return answer(responder,
                    refusal(503, "cannot follow the request's events: " + l.error().message,
                            retryAfterHeader(std::chrono::seconds(2))));
    }
    auto o = open(req, responder);
    *holder = o;
    {
      std::lock_guard lock(o->mu);
      o->listening = std::move(l.value());
      o->lastSent = after;
    }
    // History first: a resumed stream is told when events may have expired.
    if (after > 0) {
      auto first = bus_.firstSequence(ch.resultsStream);
      if (first && first.value() > after + 1) {
        std::lock_guard lock(o->mu);
        o->send(historyLost(after, first.value()));
      }
    }
    uint64_t from = after + 1;
    for (;;) {
      auto m = bus_.next(ch.resultsStream, subject, from);
      if (!m) {
        log::warn("cannot read a request's stored events",
                  {{"request", id}, {"error", m.error().message}});
        std::lock_guard lock(o->mu);
        o->out.close();  // the client reconnects with Last-Event-ID
        return;
      }
      if (!m.value()) break;
      std::lock_guard lock(o->mu);
      if (o->done) return;
      from = m.value()->sequence + 1;
      if (m.value()->sequence <= o->lastSent) continue;
      o->lastSent = m.value()->sequence;
      o->send(toEvent(*m.value()));
      if (o->done) return;
    }
    std::lock_guard lock(o->mu);
    o->replayed = true;
    for (const auto& m : o->buffered) {
      if (o->done) break;
      if (m.sequence <= o->lastSent) continue;
      o->lastSent = m.sequence;
      o->send(toEvent(m));
    }
    o->buffered.clear();
  };
  if (!work_.submit(std::move(job))) {
    releaseStream(req.peer);
    answer(responder,
           refusal(503, "the gateway is overloaded", retryAfterHeader(std::chrono::seconds(1))));
  }
}

void Gateway::channelEvents(http::Request&& req, const std::string& ns, const std::string& name,
                            http::Responder responder) {
  auto ch = enabledChannel(ns, name, responder);
  if (!ch) return;
  if (!publisherChecked(req, *ch, responder, nullptr)) return;
  if (!admitStream(req.peer, responder)) return;
  auto job = [this, alive = alive_, ch = *ch, req = std::move(req), responder]() mutable {
    if (!alive->load()) return;
    auto holder = std::make_shared<std::weak_ptr<Opened>>();
    auto sub = bus_.subscribe(cg::broadcastSubject(ch.ns, ch.name), [holder](std::string data) {
      auto o = holder->lock();
      if (!o) return;
      std::lock_guard lock(o->mu);
      if (!o->done) o->send(broadcast(data));
    });
    if (!sub) {
      releaseStream(req.peer);
      return answer(responder,
                    refusal(503, "cannot follow the channel's broadcasts: " + sub.error().message,
                            retryAfterHeader(std::chrono::seconds(2))));
    }
    auto o = open(req, responder);
    std::lock_guard lock(o->mu);
    o->listening = std::move(sub.value());
    o->replayed = true;
    *holder = o;
  };
  if (!work_.submit(std::move(job))) {
    releaseStream(req.peer);
    answer(responder,
           refusal(503, "the gateway is overloaded", retryAfterHeader(std::chrono::seconds(1))));
  }
}

// Each tick serves one slot of the streams (by key), so that every stream has its keep-alive once
// per interval and 10,000 streams are not all written at the same moment: on one HTTP thread
// that burst held a POST up for 0.2 s (docs/gateway.md, benchmark).
std::chrono::milliseconds Gateway::keepaliveStep() const {
  const auto step = options_.keepalive / static_cast<int64_t>(kKeepaliveSlots);
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(step),
                  std::chrono::milliseconds(1));
}

void Gateway::keepaliveTick() {
  const uint64_t slot = keepaliveTicks_++ % kKeepaliveSlots;
  std::vector<std::shared_ptr<Opened>> open;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, w] : opened_)
      if (k % kKeepaliveSlots == slot)
        if (auto o = w.lock()) open.push_back(std::move(o));
  }
  const auto now = Clock::now();
  for (auto& o : open) {
    std::lock_guard lock(o->mu);
    if (o->done) continue;
    if (now - o->lastActivity >= options_.streamIdleTimeout) {
      o->done = true;
      o->out.close();
      continue;
    }
    if (!o->webSocket) o->out.send(sseComment("keep-alive"));  // (WebSockets ping themselves)
  }
  timers_.at(Clock::now() + keepaliveStep(), [this] { keepaliveTick(); });
}

}  // namespace osmosis::gateway
