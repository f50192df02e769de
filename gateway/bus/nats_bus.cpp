#include "gateway/bus/nats_bus.hpp"

#include "common/nats/stream_follower.hpp"
#include "common/nats/subscription.hpp"

namespace osmosis::gateway {

Result<std::unique_ptr<NatsBus>> NatsBus::create(std::shared_ptr<nats::Connection> conn,
                                                 std::unique_ptr<nats::LoopPublisher> publisher) {
  auto js = nats::JetStream::create(conn);
  if (!js) return js.error();
  return std::unique_ptr<NatsBus>(
      new NatsBus(std::move(conn), std::move(js.value()), std::move(publisher)));
}

void NatsBus::publishAsync(const std::string& subject, std::string_view body,
                           const nats::Headers& headers, const std::string& msgId,
                           std::function<void(Result<nats::PublishAck>)> done) {
  publisher_->publish(subject, body, msgId, headers, std::move(done));
}

std::optional<int64_t> NatsBus::cachedBacklog(const std::string& stream,
                                              const std::string& consumer) {
  std::lock_guard lock(mu_);
  auto it = backlogs_.find(stream + "/" + consumer);
  if (it == backlogs_.end() ||
      std::chrono::steady_clock::now() - it->second.at >= std::chrono::seconds(1))
    return std::nullopt;
  return it->second.backlog;
}

Result<nats::PublishAck> NatsBus::publish(const std::string& subject, std::string_view body,
                                          const nats::Headers& headers, const std::string& msgId) {
  return js_.publishAck(subject, body, msgId, headers);
}

Result<int64_t> NatsBus::backlog(const std::string& stream, const std::string& consumer) {
  if (auto cached = cachedBacklog(stream, consumer)) return *cached;
  const auto now = std::chrono::steady_clock::now();
  auto info = nats::requireLeader(js_.consumerInfo(stream, consumer));
  if (!info) return info.error();
  const int64_t backlog =
      static_cast<int64_t>(info.value().numPending) + info.value().numAckPending;
  std::lock_guard lock(mu_);
  backlogs_[stream + "/" + consumer] = {backlog, now};
  return backlog;
}

Result<std::optional<nats::StoredMessage>> NatsBus::next(const std::string& stream,
                                                         const std::string& subject,
                                                         uint64_t fromSequence) {
  return js_.nextMessage(stream, subject, fromSequence);
}

Result<std::optional<nats::StoredMessage>> NatsBus::last(const std::string& stream,
                                                         const std::string& subject) {
  return js_.lastMessage(stream, subject);
}

Result<uint64_t> NatsBus::firstSequence(const std::string& stream) {
  auto info = nats::requireLeader(js_.streamInfo(stream));
  if (!info) return info.error();
  return info.value().state.firstSequence;
}

Result<std::shared_ptr<void>> NatsBus::follow(const std::string& stream,
                                              const std::string& filterSubject,
                                              std::function<void(nats::StoredMessage)> onMessage) {
  auto f = nats::StreamFollower::start(conn_, stream, filterSubject, std::move(onMessage));
  if (!f) return f.error();
  return std::shared_ptr<void>(std::move(f.value()));
}

Result<std::shared_ptr<void>> NatsBus::subscribe(const std::string& subject,
                                                 std::function<void(std::string)> onData) {
  auto s = nats::Subscription::subscribe(
      conn_, subject,
      [h = std::move(onData)](std::string_view, std::string_view data) { h(std::string(data)); });
  if (!s) return s.error();
  return std::shared_ptr<void>(std::move(s.value()));
}

}  // namespace osmosis::gateway
