#include "tests/fakes/fake_nats.hpp"

#include "common/nats/subject.hpp"

namespace osmosis::testing {

class FakeNats::Handle final : public nats::Listening {
 public:
  explicit Handle(std::shared_ptr<Sub> sub) : sub_(std::move(sub)) {}
  ~Handle() override { sub_->alive = false; }

 private:
  std::shared_ptr<Sub> sub_;
};

Error FakeNats::down(const std::string& doing) const {
  return makeError(Error::Code::kUnavailable, doing + ": no server available (fake)");
}

void FakeNats::count(const std::string& op) {
  ++calls_[op];
}

int FakeNats::calls(const std::string& op) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

bool FakeNats::hasStream(const std::string& name) const {
  std::lock_guard lock(mu_);
  return streams_.count(name) > 0;
}

bool FakeNats::hasConsumer(const std::string& stream, const std::string& consumer) const {
  std::lock_guard lock(mu_);
  return consumers_.count({stream, consumer}) > 0;
}

size_t FakeNats::subscriptions() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& s : subs_)
    n += s->alive ? 1 : 0;
  return n;
}

Result<nats::StreamInfo> FakeNats::addStream(const nats::StreamConfig& config) {
  std::lock_guard lock(mu_);
  count("stream.create");
  if (unavailable) return down("creating stream " + config.name);
  if (refuseStreamCreate.count(config.name))
    return makeError(Error::Code::kConflict,
                     "subjects overlap with an existing stream (fake, err_code=10065)");
  if (streams_.count(config.name))
    return makeError(Error::Code::kAlreadyExists, "stream name already in use (fake)");
  nats::StreamInfo info;
  info.config = config;
  return streams_[config.name] = info;
}

Result<nats::StreamInfo> FakeNats::updateStream(const nats::StreamConfig& config) {
  std::lock_guard lock(mu_);
  count("stream.update");
  if (unavailable) return down("updating stream " + config.name);
  auto it = streams_.find(config.name);
  if (it == streams_.end()) return makeError(Error::Code::kNotFound, "stream not found (fake)");
  it->second.config = config;
  return it->second;
}

Result<nats::StreamInfo> FakeNats::streamInfo(const std::string& name) {
  std::lock_guard lock(mu_);
  count("stream.info");
  if (unavailable) return down("reading stream " + name);
  auto it = streams_.find(name);
  if (it == streams_.end()) return makeError(Error::Code::kNotFound, "stream not found (fake)");
  return it->second;
}

Result<std::vector<nats::StreamInfo>> FakeNats::listStreams() {
  if (duringList) duringList();
  std::lock_guard lock(mu_);
  count("stream.list");
  if (unavailable) return down("listing streams");
  std::vector<nats::StreamInfo> all;
  for (const auto& [name, info] : streams_)
    all.push_back(info);
  return all;
}

Status FakeNats::deleteStream(const std::string& name) {
  std::lock_guard lock(mu_);
  count("stream.delete");
  if (unavailable) return down("deleting stream " + name);
  if (!streams_.erase(name)) return makeError(Error::Code::kNotFound, "stream not found (fake)");
  for (auto it = consumers_.begin(); it != consumers_.end();)
    it = it->first.first == name ? consumers_.erase(it) : std::next(it);
  return {};
}

Result<nats::ConsumerInfo> FakeNats::addOrUpdateConsumer(const std::string& stream,
                                                         const nats::ConsumerConfig& config) {
  std::lock_guard lock(mu_);
  count("consumer.create");
  if (unavailable) return down("creating consumer " + config.durable);
  if (!streams_.count(stream)) return makeError(Error::Code::kNotFound, "stream not found (fake)");
  auto key = std::make_pair(stream, config.durable);
  auto it = consumers_.find(key);
  if (it != consumers_.end()) {
    if (refuseConsumerUpdate)
      return makeError(Error::Code::kInvalidArgument,
                       "consumer configuration update not allowed (fake)");
    it->second.config = config;
    return it->second;
  }
  nats::ConsumerInfo info;
  info.stream = stream;
  info.name = config.durable;
  info.config = config;
  info.numPending = streams_[stream].state.messages;
  return consumers_[key] = info;
}

Result<nats::ConsumerInfo> FakeNats::consumerInfo(const std::string& stream,
                                                  const std::string& consumer) {
  std::lock_guard lock(mu_);
  count("consumer.info");
  if (unavailable) return down("reading consumer " + consumer);
  auto it = consumers_.find({stream, consumer});
  if (it == consumers_.end()) return makeError(Error::Code::kNotFound, "consumer not found (fake)");
  return it->second;
}

Status FakeNats::deleteConsumer(const std::string& stream, const std::string& consumer) {
  std::lock_guard lock(mu_);
  count("consumer.delete");
  if (unavailable) return down("deleting consumer " + consumer);
  if (!consumers_.erase({stream, consumer}))
    return makeError(Error::Code::kNotFound, "consumer not found (fake)");
  return {};
}

Result<std::unique_ptr<nats::Listening>> FakeNats::subscribe(const std::string& subject,
                                                             Handler handler) {
  std::lock_guard lock(mu_);
  count("subscribe");
  if (unavailable) return down("subscribing to " + subject);
  auto sub = std::make_shared<Sub>(Sub{subject, std::move(handler), true});
  subs_.push_back(sub);
  return std::unique_ptr<nats::Listening>(new Handle(sub));
}

void FakeNats::publish(const std::string& subject, const std::string& data) {
  std::vector<std::shared_ptr<Sub>> targets;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, info] : streams_) {
      bool captured = false;
      for (const auto& s : info.config.subjects)
        captured = captured || nats::subjectCovers(s, subject);
      if (!captured) continue;
      ++info.state.messages;
      ++info.state.lastSequence;
      for (auto& [key, ci] : consumers_)
        if (key.first == name) ++ci.numPending;
    }
    for (const auto& s : subs_)
      if (s->alive && nats::subjectCovers(s->subject, subject)) targets.push_back(s);
  }
  for (const auto& s : targets)
    s->handler(subject, data);
}

void FakeNats::setConsumerFigures(const std::string& stream, const std::string& consumer,
                                  uint64_t pending, int64_t ackPending) {
  std::lock_guard lock(mu_);
  auto& ci = consumers_[{stream, consumer}];
  ci.numPending = pending;
  ci.numAckPending = ackPending;
  auto& st = streams_[stream].state;
  st.messages = std::max<uint64_t>(st.messages, pending + static_cast<uint64_t>(ackPending));
}

void FakeNats::editStream(const nats::StreamConfig& config) {
  std::lock_guard lock(mu_);
  streams_[config.name].config = config;
}

void FakeNats::editConsumer(const std::string& stream, const nats::ConsumerConfig& config) {
  std::lock_guard lock(mu_);
  consumers_[{stream, config.durable}].config = config;
}

}  // namespace osmosis::testing
