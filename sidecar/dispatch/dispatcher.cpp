#include "sidecar/dispatch/dispatcher.hpp"

#include <algorithm>
#include <charconv>
#include <strings.h>

#include "common/contract/gateway_contract.hpp"
#include "common/contract/sidecar_contract.hpp"
#include "common/log/logger.hpp"
#include "common/process/guarded.hpp"
#include "common/util/duration.hpp"
#include "sidecar/dispatch/header_mapping.hpp"
#include "sidecar/dispatch/http_client.hpp"
#include "sidecar/report/reporter.hpp"
#include "sidecar/results/events.hpp"
#include "sidecar/results/publisher.hpp"

namespace osmosis::sidecar {
namespace gw = contract::gateway;
namespace {

using SteadyClock = std::chrono::steady_clock;

// Settled messages freed together (see deliverLoop).
constexpr size_t kFreeBatch = 64;

// NATS headers that steer a JetStream publish (Nats-Msg-Id, Nats-Expected-*, Nats-Rollup,
// Nats-TTL, ...) or claim to be ours (Osmosis-*): copied into a dead letter they made the
// publish fail, deduplicated it away (a second message reusing an id was lost), or spoofed
// its metadata (issue 16, items 8 and 14).
bool controlHeader(const std::string& name) {
  return (name.size() >= 5 && ::strncasecmp(name.c_str(), "nats-", 5) == 0) ||
         (name.size() >= 8 && ::strncasecmp(name.c_str(), "osmosis-", 8) == 0);
}

}  // namespace

Dispatcher::Dispatcher(const Config& config, State& state, std::shared_ptr<nats::Connection> conn,
                       Reporter* reporter, results::Publisher* results)
    : config_(config),
      state_(state),
      conn_(std::move(conn)),
      reporter_(reporter),
      results_(results),
      settings_(std::make_shared<Settings>()) {}

Dispatcher::~Dispatcher() {
  if (puller_.joinable() || deliverer_.joinable()) (void)drain(milliseconds(0));
}

void Dispatcher::start() {
  app_ = std::make_unique<AppClient>(config_.appPort, config_.concurrency);
  deliverer_ = std::thread([this] { guarded("deliverer", [this] { deliverLoop(); }); });
  parkedThread_ = std::thread([this] { guarded("parked", [this] { parkedLoop(); }); });
  puller_ = std::thread([this] { guarded("puller", [this] { pullLoop(); }); });
}

bool Dispatcher::pause(milliseconds d) {
  std::unique_lock lock(mu_);
  return !roomCv_.wait_for(lock, d, [&] { return stopPulling_; });
}

bool Dispatcher::bind() {
  if (!pullConn_) {
    // Pull requests on a connection of their own that writes them at once: on the shared one
    // libnats' flusher holds each for about a millisecond, and with at most `concurrency`
    // messages out, that wait is what bounded the throughput to a fast app. Acks, naks and
    // in-progress stay buffered on the shared connection (settle ... *conn_).
    nats::ConnectionOptions options = config_.nats;
    options.sendAsap = true;
    options.name += "/pull";
    auto pc = nats::Connection::connect(options);
    if (!pc.ok()) {
      state_.setError(pc.error().message);
      log::warn("cannot open the pull connection; retrying", {{"error", pc.error().message}});
      return false;
    }
    pullConn_ = pc.value();
  }
  if (!js_) {
    auto js = nats::JetStream::create(pullConn_, std::chrono::seconds(5));
    if (!js.ok()) {
      state_.setError(js.error().message);
      return false;
    }
    js_.emplace(std::move(js.value()));
  }
  auto info = js_->consumerInfo(config_.stream, config_.consumer);
  if (!info.ok()) {
    state_.setError(info.error().message);
    log::warn("cannot read the consumer; retrying", {{"stream", config_.stream},
                                                     {"consumer", config_.consumer},
                                                     {"code", codeName(info.error().code)},
                                                     {"error", info.error().message}});
    return false;
  }
  auto sub = js_->pullSubscribe(config_.stream, config_.consumer);
  if (!sub.ok()) {
    state_.setError(sub.error().message);
    log::warn("cannot bind to the consumer; retrying", {{"stream", config_.stream},
                                                        {"consumer", config_.consumer},
                                                        {"error", sub.error().message}});
    return false;
  }
  sub_.emplace(std::move(sub.value()));
  const auto& cc = info->config;
  auto ackWait = config_.ackWait.value_or(std::chrono::duration_cast<milliseconds>(cc.ackWait));
  if (ackWait.count() <= 0) ackWait = std::chrono::seconds(30);
  auto settings = std::make_shared<Settings>();
  settings->inProgressEvery = std::max(ackWait / 2, milliseconds(50));
  auto& policy = settings->policy;
  policy.hasDeadLetter = !config_.deadLetterSubject.empty();
  policy.maxDeliver = cc.maxDeliver;
  if (config_.backoff) {
    policy.backoff = *config_.backoff;
  } else {
    for (auto d : cc.backoff)
      policy.backoff.push_back(std::chrono::duration_cast<milliseconds>(d));
  }
  {
    std::lock_guard lock(mu_);
    settings_ = settings;
  }
  state_.consumerBound = true;
  log::info("bound to consumer", {{"stream", config_.stream},
                                  {"consumer", config_.consumer},
                                  {"ackWait", formatDuration(ackWait)},
                                  {"inProgressEvery", formatDuration(settings->inProgressEvery)},
                                  {"maxDeliver", cc.maxDeliver},
                                  {"backoffSteps", policy.backoff.size()}});
  return true;
}

void Dispatcher::pullLoop() {
  int failures = 0;
  bool idle = true;
  bool waitingForApp = false;
  for (;;) {
    state_.beat(State::Loop::kPuller);
    {
      std::unique_lock lock(mu_);
      if (stopPulling_) break;
    }
    if (!sub_) {
      if (!bind()) {
        state_.pullErrors.inc();
        pause(jitteredBackoff(failures++, milliseconds(100), milliseconds(5000)));
        continue;
      }
      failures = 0;
    }
    // Do not take messages the app cannot accept yet (start-up, restarts): no delivery burnt.
    if (!state_.appReachable) {
      if (AppClient::reachable(config_.appPort)) {
        state_.appReachable = true;
        if (waitingForApp) log::info("app reachable", {{"port", config_.appPort}});
        waitingForApp = false;
      } else {
        if (!waitingForApp)
          log::info("waiting for the app to accept connections", {{"port", config_.appPort}});
        waitingForApp = true;
        state_.setError("app not accepting connections on 127.0.0.1:" +
                        std::to_string(config_.appPort));
        pause(milliseconds(100));
        continue;
      }
    }
    int room;
    {
      std::unique_lock lock(mu_);
      pullerWaiting_ = true;
      roomCv_.wait_for(lock, std::chrono::seconds(1),
                       [&] { return stopPulling_ || outstanding_ < config_.concurrency; });
      pullerWaiting_ = false;
      if (stopPulling_) break;
      room = config_.concurrency - outstanding_;
    }
    if (room <= 0) continue;
    // Idle: ask for one message and wait for it (it returns as soon as one arrives). Busy: ask
    // for as many as there is room for; the server answers at once with what it has.
    int batch = idle ? 1 : std::min(room, config_.maxBatch);
    auto fetched = sub_->fetch(batch, idle ? milliseconds(1000) : milliseconds(100));
    if (!fetched.ok()) {
      state_.pullErrors.inc();
      state_.setError(fetched.error().message);
      auto code = fetched.error().code;
      log::warn("pull failed; retrying", {{"code", codeName(code)},
                                          {"error", fetched.error().message},
                                          {"failures", failures + 1}});
      if (code == Error::Code::kNotFound || failures >= 3) {
        // The consumer may be gone (deleted, server lost state): bind again. Messages in
        // flight point at the old subscription (libnats keeps msg->sub), so it is kept
        // alive, not destroyed, until the dispatcher goes.
        retired_.push_back(std::move(*sub_));
        sub_.reset();
        state_.consumerBound = false;
      }
      pause(jitteredBackoff(failures++, milliseconds(100), milliseconds(5000)));
      continue;
    }
    failures = 0;
    auto& msgs = fetched.value();
    if (msgs.empty()) {
      idle = true;
      continue;
    }
    idle = static_cast<int>(msgs.size()) < batch;
    if (reporter_ != nullptr) reporter_->observePending(msgs.back().numPending());
    {
      std::lock_guard lock(mu_);
      for (auto& m : msgs) {
        queue_.push_back(std::move(m));
        ++outstanding_;
      }
    }
    app_->wake();
  }
  // The subscription stays until every message is settled (drain): libnats acks through it.
}

void Dispatcher::deliverLoop() {
  const int slots = app_->slots();
  std::vector<Flight> flights(static_cast<size_t>(slots));
  std::vector<int> idle;  // slots without a request
  for (int i = slots - 1; i >= 0; --i)
    idle.push_back(i);
  std::vector<nats::Message> taken;
  std::vector<AppClient::Done> done;
  // Settled messages are freed in batches: libnats hands each freed message to its collector
  // thread and wakes it, so freeing one at a time woke that thread once per message.
  std::vector<nats::Message> dead;
  int settled = 0;  // since the last look at the queue
  // When a flight next needs in-progress or times out (the earliest, or later: re-checked).
  auto nextCheck = SteadyClock::time_point::max();
  for (;;) {
    // One turn of the lock per loop, not per message: settled ones out, queued ones in.
    std::shared_ptr<const Settings> settings;
    bool exit = false;
    bool wakePuller = false;
    bool wakeDrain = false;
    {
      std::lock_guard lock(mu_);
      if (settled > 0) {
        outstanding_ -= settled;
        settled = 0;
        wakePuller = pullerWaiting_;
        wakeDrain = stopPulling_ && outstanding_ == 0;
      }
      while (taken.size() < idle.size() && !queue_.empty()) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      settings = settings_;
      exit =
          closed_ && queue_.empty() && taken.empty() && idle.size() == static_cast<size_t>(slots);
    }
    if (wakePuller) roomCv_.notify_one();
    if (wakeDrain) idleCv_.notify_all();
    if (exit) break;
    for (auto& m : taken) {
      const int slot = idle.back();
      idle.pop_back();
      Flight& f = flights[static_cast<size_t>(slot)];
      begin(f, slot, std::move(m), settings, &done);
      nextCheck = std::min({nextCheck, f.deadline, f.nextProgress});
    }
    taken.clear();

    if (done.empty()) {
      // Nothing finished at once: wait for answers, new messages (wake), or the next check.
      auto timeout = milliseconds(-1);
      if (abandon_.load()) {
        timeout = milliseconds(0);
      } else if (idle.size() < static_cast<size_t>(slots)) {
        auto until = nextCheck - SteadyClock::now();
        timeout = std::max(milliseconds(0),
                           std::chrono::ceil<milliseconds>(
                               std::min<SteadyClock::duration>(until, std::chrono::seconds(1))));
      }
      if (timeout.count() < 0) dead.clear();  // nothing in flight: free what is settled now
      app_->wait(timeout, &done);
    }
    for (auto& d : done) {
      Flight& f = flights[static_cast<size_t>(d.slot)];
      if (!f.msg) continue;  // (cannot happen: only started requests finish)
      if (finish(f, d.result)) ++settled;
      retire(f, dead);
      idle.push_back(d.slot);
    }
    done.clear();

    const bool abandon = abandon_.load();
    const auto now = SteadyClock::now();
    if (!abandon && now < nextCheck) continue;
    nextCheck = SteadyClock::time_point::max();
    for (int slot = 0; slot < slots; ++slot) {
      Flight& f = flights[static_cast<size_t>(slot)];
      if (!f.msg) continue;
      DeliveryResult r;
      if (abandon) {
        r.kind = DeliveryResult::Kind::kAborted;
        r.detail = "gave up waiting for the app";
      } else if (now >= f.deadline) {
        r.kind = DeliveryResult::Kind::kTimeout;
        r.detail = "no answer in time";
      } else {
        if (now >= f.nextProgress) {
          f.nextProgress = now + f.settings->inProgressEvery;
          if (auto st = f.msg->inProgress(*conn_); !st.ok()) {
            state_.settleErrors.inc();
            log::warn("cannot send in-progress",
                      {{"seq", f.msg->streamSequence()}, {"error", st.error().message}});
          } else {
            log::debug("in-progress sent", {{"seq", f.msg->streamSequence()}});
          }
        }
        nextCheck = std::min({nextCheck, f.deadline, f.nextProgress});
        continue;
      }
      app_->cancel(slot);  // (closes the connection: a late answer cannot be mistaken)
      if (finish(f, r)) ++settled;
      retire(f, dead);
      idle.push_back(slot);
    }
  }
}

void Dispatcher::begin(Flight& f, int slot, nats::Message msg,
                       std::shared_ptr<const Settings> settings,
                       std::vector<AppClient::Done>* done) {
  RequestBuilder req(app_->request(slot));
  const std::string_view body = msg.data();
  char number[24];
  auto digits = [&](uint64_t n) {
    auto [end, ec] = std::to_chars(number, number + sizeof number, n);
    return std::string_view(number, static_cast<size_t>(end - number));
  };
  req.begin(config_.appPath, config_.appPort, body.size());
  req.header(contract::kHeaderMessageId, digits(msg.streamSequence()));
  req.header(contract::kHeaderSubject, msg.subject());
  req.header(contract::kHeaderDeliveryCount, digits(msg.deliveryCount()));
  req.header(contract::kHeaderChannel, config_.channel);
  req.header(contract::kHeaderNamespace, config_.ns);
  const nats::Headers headers = msg.headers();
  std::string requestId;
  if (results_ != nullptr) {
    if (auto id = results_->requestIdOf(headers)) {
      requestId = std::move(*id);
      // The id the worker posts progress for. (The NATS header itself arrives renamed, as
      // every incoming Osmosis-* header does: this one is checked, that one is not.)
      req.header(gw::kHeaderRequestId, requestId);
      req.capture(config_.maxResultBytes);
    }
  }
  if (!addNatsHeaders(req, headers)) req.header("Content-Type", "application/octet-stream");
  req.end(body);
  if (!requestId.empty()) {
    results_->enter(requestId);
    // Before the app has it: a client never sees a progress event before "delivered".
    results_->step(requestId, gw::kEventDelivered,
                   results::deliveredEvent(msg.deliveryCount(), config_.pod));
  }

  f.msg.emplace(std::move(msg));
  f.start = SteadyClock::now();
  f.deadline = f.start + config_.messageTimeout;
  f.nextProgress = f.start + settings->inProgressEvery;
  f.settings = std::move(settings);
  f.requestId = std::move(requestId);
  state_.enterFlight();
  state_.delivered.inc();
  app_->start(slot, done);
}

void Dispatcher::retire(Flight& f, std::vector<nats::Message>& dead) {
  if (f.msg) dead.push_back(std::move(*f.msg));  // (an empty shell when it was parked)
  f = Flight{};
  if (dead.size() >= kFreeBatch) dead.clear();
}

const char* Dispatcher::finalEvent(const Settlement& d, DeliveryResult& r,
                                   std::string* body) const {
  using Action = Settlement::Action;
  if (d.action == Action::kTerm) {
    std::optional<int> status;
    if (r.kind == DeliveryResult::Kind::kResponse) status = r.status;
    *body = results::failedEvent(status, d.reason, d.deadLetter);
    return gw::kEventFailed;
  }
  if (d.action != Action::kAck) return nullptr;
  results::AppAnswer answer;
  answer.status = r.status;
  answer.headers = std::move(r.headers);
  answer.body = std::move(r.body);
  answer.bodyBytes = r.captured ? r.bodyBytes : 0;
  answer.bodyKept = r.bodyKept;
  *body = results::resultEvent(answer, config_.maxResultBytes);
  // The whole event must fit in one NATS message, or its publish would fail for ever.
  // (Headers and the subject take a little room besides the body.)
  const size_t maxPayload = results_->maxPayload();
  if (maxPayload > 0 && body->size() + 1024 > maxPayload) {
    *body = results::resultEventWithoutBody(answer,
                                            "the event of " + std::to_string(body->size()) +
                                                " bytes is over the NATS server's max payload of " +
                                                std::to_string(maxPayload) + " bytes");
  }
  return gw::kEventResult;
}

bool Dispatcher::finish(Flight& f, DeliveryResult& r) {
  nats::Message& msg = *f.msg;
  state_.latency.observe(std::chrono::duration<double>(SteadyClock::now() - f.start).count());
  if (r.kind == DeliveryResult::Kind::kRefused) {
    state_.appReachable = false;
    state_.setError("app refused the connection on 127.0.0.1:" + std::to_string(config_.appPort));
  }
  if (r.kind == DeliveryResult::Kind::kAborted) abandoned_.fetch_add(1);
  const RetryPolicy& policy = f.settings->policy;
  Settlement d = decide(r, msg.deliveryCount(), policy);
  const char* event = nullptr;
  std::string eventBody;
  if (!f.requestId.empty()) {
    // No longer in flight: the worker's progress for it is refused from now on, so none can
    // follow the final event (leave() waits for a progress publish under way).
    results_->leave(f.requestId);
    event = finalEvent(d, r, &eventBody);
    if (d.action == Settlement::Action::kNak) {
      // (A nak without delay, when the sidecar drains, is a retry too: another pod takes it.)
      results_->step(f.requestId, gw::kEventRetry,
                     results::retryEvent(msg.deliveryCount(), d.delay.count(), d.reason));
    }
  }
  if (event != nullptr || (d.action == Settlement::Action::kTerm && d.deadLetter)) {
    {
      std::lock_guard lock(parkMu_);
      const bool deadLetterPending = d.action == Settlement::Action::kTerm && d.deadLetter;
      Parked p{std::move(msg), std::move(d), std::move(r), f.settings, {}, nullptr, {}, false};
      p.deadLetterPending = deadLetterPending;
      p.requestId = std::move(f.requestId);
      p.finalEvent = event;
      p.finalBody = std::move(eventBody);
      p.nextProgress = SteadyClock::now() + f.settings->inProgressEvery;
      parked_.push_back(std::move(p));
    }
    parkCv_.notify_one();
    return false;
  }
  settle(msg, d);
  state_.leaveFlight();
  return true;
}

void Dispatcher::release(int n) {
  bool wakePuller, wakeDrain;
  {
    std::lock_guard lock(mu_);
    outstanding_ -= n;
    wakePuller = pullerWaiting_;
    wakeDrain = stopPulling_ && outstanding_ == 0;
  }
  if (wakePuller) roomCv_.notify_one();
  if (wakeDrain) idleCv_.notify_all();
}

void Dispatcher::parkedLoop() {
  std::unique_lock lock(parkMu_);
  for (;;) {
    if (parked_.empty()) {
      if (parkClosed_) return;
      parkCv_.wait(lock);
      continue;
    }
    // The earliest due first; wait for it (or for a newcomer, or the drain's end).
    auto due = std::min_element(
        parked_.begin(), parked_.end(),
        [](const Parked& a, const Parked& b) { return a.nextAttempt < b.nextAttempt; });
    const bool givingUp = parkClosed_ && abandon_.load();
    if (!givingUp && due->nextAttempt > SteadyClock::now()) {
      parkCv_.wait_until(lock, due->nextAttempt);
      continue;
    }
    Parked p = std::move(*due);
    parked_.erase(due);
    lock.unlock();
    const bool settled = tryParked(p, givingUp);
    lock.lock();
    if (settled) {
      lock.unlock();
      state_.leaveFlight();
      release(1);
      lock.lock();
    } else {
      parked_.push_back(std::move(p));
    }
    size_t deadLetters = 0, finals = 0;
    for (const auto& q : parked_) {
      if (q.deadLetterPending) ++deadLetters;
      if (q.finalEvent != nullptr) ++finals;
    }
    state_.deadLetterHeld.set(static_cast<double>(deadLetters));
    state_.resultsHeld.set(static_cast<double>(finals));
  }
}

bool Dispatcher::tryParked(Parked& p, bool givingUp) {
  const uint64_t seq = p.msg.streamSequence();
  // First the dead letter (a "failed" event saying deadLettered is then true), then the final
  // results event; neither again once it succeeded.
  const char* failed = nullptr;
  Status published;
  if (p.deadLetterPending) {
    published = deadLetter(p.msg, p.decision, p.result);
    if (published) {
      p.deadLetterPending = false;
    } else {
      failed = "dead-letter";
      state_.deadLetterFailures.inc();
    }
  }
  if (failed == nullptr && p.finalEvent != nullptr) {
    published = results_->final(p.requestId, p.finalEvent, p.finalBody);
    if (published) {
      p.finalEvent = nullptr;
      std::string().swap(p.finalBody);
    } else {
      failed = "final results event";
    }
  }
  if (failed == nullptr) {
    settle(p.msg, p.decision);
    if (p.failures > 0)
      log::info("held message published and settled after retries", {{"seq", seq}});
    return true;
  }
  if (givingUp) {
    // Stopping with the publish still failing: hand it back. The final event of a redelivery is
    // stored once (its Nats-Msg-Id). On its last delivery the server keeps it without delivering
    // it again; say so, loudly, with its sequence.
    log::error("giving up on a held message's publish at shutdown; the message is nakked",
               {{"seq", seq},
                {"publish", failed},
                {"requestId", p.requestId},
                {"deliveryCount", p.msg.deliveryCount()},
                {"error", published.error().message}});
    Settlement nak{Settlement::Action::kNak, milliseconds(0), false,
                   p.decision.reason + "; " + failed + " publish failed"};
    settle(p.msg, nak);
    return true;
  }
  const auto now = SteadyClock::now();
  if (p.failures++ == 0 || p.failures % 10 == 0) {
    log::error(
        std::string("cannot publish the ") + failed + " message; holding the message and retrying",
        {{"seq", seq},
         {"subject",
          p.deadLetterPending ? config_.deadLetterSubject : gw::resultsSubject(p.requestId)},
         {"failures", p.failures},
         {"error", published.error().message}});
  }
  // Keep the server from redelivering it meanwhile.
  if (now >= p.nextProgress) {
    if (auto st = p.msg.inProgress(*conn_); !st.ok()) state_.settleErrors.inc();
    p.nextProgress = now + p.settings->inProgressEvery;
  }
  p.nextAttempt =
      now + std::min(jitteredBackoff(p.failures - 1, milliseconds(500), milliseconds(30000)),
                     p.settings->inProgressEvery);
  return false;
}

Status Dispatcher::deadLetter(nats::Message& msg, const Settlement& d, const DeliveryResult& r) {
  nats::Headers headers;
  for (auto& [k, v] : msg.headers()) {
    if (::strcasecmp(k.c_str(), "nats-msg-id") == 0) {
      headers.emplace_back("Osmosis-Original-Msg-Id", v);
    } else if (!controlHeader(k)) {
      headers.emplace_back(std::move(k), std::move(v));
    }
  }
  headers.emplace_back(contract::kHeaderChannel, config_.channel);
  headers.emplace_back(contract::kHeaderNamespace, config_.ns);
  headers.emplace_back("Osmosis-Original-Subject", msg.subject());
  headers.emplace_back(contract::kHeaderMessageId, std::to_string(msg.streamSequence()));
  headers.emplace_back(contract::kHeaderDeliveryCount, std::to_string(msg.deliveryCount()));
  headers.emplace_back("Osmosis-Error", d.reason);
  if (r.kind == DeliveryResult::Kind::kResponse)
    headers.emplace_back("Osmosis-Error-Status", std::to_string(r.status));
  // An id of this message alone: a retried publish of it is stored once, and no other message
  // can be mistaken for it.
  const std::string id =
      "osmosis-dl:" + config_.stream + ":" + std::to_string(msg.streamSequence());
  // Stored by a stream when one captures the subject (and then confirmed); plain NATS when none.
  auto pub = js_->publish(config_.deadLetterSubject, msg.data(), id, headers);
  if (pub.ok()) return {};
  if (pub.error().code == Error::Code::kUnavailable) {
    auto st = conn_->publish(config_.deadLetterSubject, msg.data(), headers);
    if (st.ok()) {
      log::warn("dead-letter subject has no stream; published without storage",
                {{"subject", config_.deadLetterSubject}, {"seq", msg.streamSequence()}});
      return {};
    }
    return st.error();
  }
  return pub.error();
}

void Dispatcher::settle(nats::Message& msg, const Settlement& applied) {
  using Action = Settlement::Action;
  const uint64_t seq = msg.streamSequence();
  Status st;
  switch (applied.action) {
    case Action::kAck:
      st = msg.ack(*conn_);
      state_.acked.inc();
      break;
    case Action::kNak:
      st = applied.delay.count() > 0 ? msg.nakWithDelay(applied.delay, *conn_) : msg.nak(*conn_);
      state_.nakked.inc();
      break;
    case Action::kTerm:
      st = msg.term(*conn_);
      state_.termed.inc();
      if (applied.deadLetter) state_.deadLettered.inc();
      break;
  }
  if (!st.ok()) {
    state_.settleErrors.inc();
    log::warn(
        "cannot settle message; the server redelivers it after ackWait",
        {{"seq", seq}, {"action", actionName(applied.action)}, {"error", st.error().message}});
  }
  if (applied.action == Action::kAck) {
    // (Level first: the fields would be built, and allocated, for every message.)
    if (log::Logger::global().enabled(log::Level::kDebug))
      log::debug("message acked", {{"seq", seq}});
  } else {
    log::info("message not processed", {{"seq", seq},
                                        {"subject", msg.subject()},
                                        {"deliveryCount", msg.deliveryCount()},
                                        {"action", actionName(applied.action)},
                                        {"delayMs", applied.delay.count()},
                                        {"deadLetter", applied.deadLetter},
                                        {"reason", applied.reason}});
  }
}

int Dispatcher::drain(milliseconds grace) {
  const auto deadline = SteadyClock::now() + grace;
  {
    std::lock_guard lock(mu_);
    stopPulling_ = true;
  }
  roomCv_.notify_all();
  if (puller_.joinable()) puller_.join();
  state_.stopWatching(State::Loop::kPuller);
  // Drop interest before anything is nakked. A pull request of ours can still be open at the
  // server after the puller stopped, and the server would hand a nakked message straight back
  // to it, to this pod that is going away (it would then return only after ackWait). Without
  // interest the server passes over that request. The flush makes sure it has the
  // unsubscribe before the naks, which go on the other connection.
  if (sub_) (void)sub_->unsubscribe();
  for (auto& r : retired_)
    (void)r.unsubscribe();
  if (pullConn_) {
    if (auto st = pullConn_->flush(std::chrono::seconds(1)); !st.ok())
      log::warn("cannot flush the unsubscribe", {{"error", st.error().message}});
  }
  // Pulled but not started: back to the consumer at once, for another pod.
  std::deque<nats::Message> unstarted;
  {
    std::lock_guard lock(mu_);
    unstarted.swap(queue_);
    outstanding_ -= static_cast<int>(unstarted.size());
    closed_ = true;
  }
  if (app_) app_->wake();
  for (auto& m : unstarted) {
    if (auto st = m.nak(*conn_); !st.ok()) {
      state_.settleErrors.inc();
      log::warn("cannot nak unstarted message",
                {{"seq", m.streamSequence()}, {"error", st.error().message}});
    }
    state_.nakked.inc();
  }
  const auto inFlightAtStart = state_.inFlight();
  log::info("draining", {{"inFlight", inFlightAtStart},
                         {"nakkedUnstarted", unstarted.size()},
                         {"graceMs", grace.count()}});
  unstarted.clear();
  {
    std::unique_lock lock(mu_);
    if (!idleCv_.wait_until(lock, deadline, [&] { return outstanding_ == 0; })) {
      abandon_ = true;  // the delivery thread gives up on every flight and naks
      log::warn("drain grace period over: nakking in-flight messages",
                {{"inFlight", outstanding_}});
    }
  }
  if (app_) app_->wake();
  if (deliverer_.joinable()) deliverer_.join();
  {
    std::lock_guard lock(parkMu_);
    parkClosed_ = true;  // (what is parked is still settled first)
  }
  parkCv_.notify_all();
  if (parkedThread_.joinable()) parkedThread_.join();
  // What the server sent after the last fetch returned (rare) goes back to the consumer after
  // ackWait.
  sub_.reset();
  retired_.clear();
  // libnats buffers the settles (its flusher writes them about a millisecond later): see them
  // to the server before the process exits, or the last naks would wait for ackWait.
  if (auto st = conn_->flush(std::chrono::seconds(1)); !st.ok())
    log::warn("cannot flush the last settles", {{"error", st.error().message}});
  return abandoned_.load();
}

}  // namespace osmosis::sidecar
