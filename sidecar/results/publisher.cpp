#include "sidecar/results/publisher.hpp"

#include <nats/nats.h>

#include "common/contract/gateway_contract.hpp"
#include "common/log/logger.hpp"

namespace osmosis::sidecar::results {
namespace gw = contract::gateway;

Publisher::Publisher(const Config& config, State& state, std::shared_ptr<nats::Connection> conn)
    : config_(config), state_(state), conn_(std::move(conn)) {}

std::optional<std::string> Publisher::requestIdOf(const nats::Headers& headers) {
  auto check = checkRequestId(headers, config_.ns, config_.channel);
  using Verdict = RequestIdCheck::Verdict;
  if (check.verdict == Verdict::kOurs) return std::move(check.id);
  if (check.verdict == Verdict::kAbsent) return std::nullopt;
  state_.resultsRefusedIds.inc();
  bool first;
  {
    std::lock_guard lock(mu_);
    first = warned_.insert(check.verdict).second;
  }
  // Once per kind: a publisher sending bad ids would otherwise write a line per message.
  if (first) {
    log::warn(
        "message with a request id this sidecar does not publish events for; no events "
        "for such messages (counted in osmosis_sidecar_results_refused_ids_total, logged "
        "once)",
        {{"why", verdictName(check.verdict)},
         {"requestId", check.id.substr(0, 200)},
         {"namespace", config_.ns},
         {"channel", config_.channel}});
  }
  return std::nullopt;
}

void Publisher::step(const std::string& requestId, const char* event, const std::string& body) {
  auto st = conn_->publish(gw::resultsSubject(requestId), body, {{gw::kHeaderEvent, event}});
  if (st.ok()) {
    state_.resultsPublished.inc();
    return;
  }
  state_.resultsFailures.inc();
  log::warn("cannot publish a results event",
            {{"requestId", requestId}, {"event", event}, {"error", st.error().message}});
}

Status Publisher::final(const std::string& requestId, const char* event, const std::string& body) {
  std::lock_guard lock(jsMu_);
  if (!js_) {
    auto js = nats::JetStream::create(conn_, std::chrono::seconds(5));
    if (!js.ok()) {
      state_.resultsFailures.inc();
      return js.error();
    }
    js_.emplace(std::move(js.value()));
  }
  auto pub = js_->publish(gw::resultsSubject(requestId), body, gw::finalEventMsgId(requestId),
                          {{gw::kHeaderEvent, event}});
  if (!pub.ok()) {
    state_.resultsFailures.inc();
    return pub.error();
  }
  state_.resultsPublished.inc();
  return {};
}

size_t Publisher::maxPayload() const {
  const int64_t n = natsConnection_GetMaxPayload(conn_->raw());
  return n > 0 ? static_cast<size_t>(n) : 0;
}

void Publisher::enter(const std::string& requestId) {
  std::lock_guard lock(mu_);
  ++inFlight_[requestId];
}

void Publisher::leave(const std::string& requestId) {
  std::lock_guard lock(mu_);
  auto it = inFlight_.find(requestId);
  if (it != inFlight_.end() && --it->second <= 0) inFlight_.erase(it);
}

bool Publisher::natsUp() const {
  return conn_->connected();
}

Status Publisher::publishProgress(const std::string& requestId, const std::string& event) {
  // Under the lock leave() takes: a progress event is in the connection's buffer before the
  // request's final event can be (that one is published after leave()).
  std::lock_guard lock(mu_);
  if (inFlight_.count(requestId) == 0)
    return makeError(Error::Code::kNotFound, "request " + requestId + " not in flight here");
  return publish(gw::resultsSubject(requestId), event, {{gw::kHeaderEvent, gw::kEventProgress}});
}

Status Publisher::publish(const std::string& subject, std::string_view data,
                          const nats::Headers& headers) {
  auto st = conn_->publish(subject, data, headers);
  if (st.ok()) {
    state_.resultsPublished.inc();
  } else {
    state_.resultsFailures.inc();
  }
  return st;
}

}  // namespace osmosis::sidecar::results
