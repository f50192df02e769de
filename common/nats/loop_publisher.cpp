#include "common/nats/loop_publisher.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "common/log/logger.hpp"
#include "common/nats/error.hpp"
#include "common/nats/jetstream_json.hpp"

namespace osmosis::nats {

namespace asio = boost::asio;

namespace {
constexpr size_t kDestroyBatch = 64;
constexpr auto kExpiryTick = std::chrono::milliseconds(250);

// The outcome an acknowledgement message carries.
Result<PublishAck> outcomeOf(natsMsg* m, const std::string& subject) {
  const std::string doing = "publishing to " + subject;
  if (natsMsg_IsNoResponders(m)) return toError(NATS_NO_RESPONDERS, doing);
  const char* data = natsMsg_GetData(m);
  auto reply = parseApiReply(
      std::string_view(data != nullptr ? data : "", static_cast<size_t>(natsMsg_GetDataLength(m))),
      doing);
  if (!reply) return reply.error();
  const auto& j = reply.value();
  PublishAck ack;
  ack.stream = j.value("stream", "");
  ack.sequence = j.value("seq", uint64_t{0});
  ack.duplicate = j.value("duplicate", false);
  if (ack.stream.empty() || ack.sequence == 0)
    return makeError(Error::Code::kInternal, doing + ": the acknowledgement names no stream");
  return ack;
}
}  // namespace

struct LoopPublisher::Timer {
  explicit Timer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
};

LoopPublisher::LoopPublisher(std::chrono::milliseconds maxWait) : maxWait_(maxWait) {}

Result<std::unique_ptr<LoopPublisher>> LoopPublisher::connect(ConnectionOptions options,
                                                              asio::io_context& io,
                                                              std::chrono::milliseconds maxWait) {
  std::unique_ptr<LoopPublisher> p(new LoopPublisher(maxWait));
  p->loop_.io = &io;
  p->loop_.afterRead = [raw = p.get()] { raw->drain(); };
  options.loop = &p->loop_;
  auto conn = Connection::connect(options);
  if (!conn) return conn.error();
  p->conn_ = std::move(conn.value());
  natsInbox* unique = nullptr;
  natsStatus s = natsInbox_Create(&unique);
  if (s != NATS_OK) return toError(s, "making an inbox for acknowledgements");
  p->inbox_ = std::string(unique) + ".";
  natsInbox_Destroy(unique);
  const std::string filter = p->inbox_ + "*";
  s = natsConnection_SubscribeSync(&p->sub_, p->conn_->raw(), filter.c_str());
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(p->sub_, -1, -1);
  if (s != NATS_OK) return toError(s, "subscribing to acknowledgements on " + filter);
  p->timer_ = std::make_unique<Timer>(io);
  p->expire();
  return p;
}

void LoopPublisher::close() {
  if (closed_.exchange(true)) return;
  if (conn_) natsConnection_Close(conn_->raw());  // (libnats then detaches: the socket's waits end)
  if (timer_) asio::post(timer_->timer.get_executor(), [t = timer_.get()] { t->timer.cancel(); });
}

LoopPublisher::~LoopPublisher() {
  close();
  if (sub_ != nullptr) natsSubscription_Destroy(sub_);
  std::unordered_map<uint64_t, Waiting> left;
  {
    std::lock_guard lock(mu_);
    left.swap(waiting_);
  }
  for (auto& [id, w] : left)
    w.done(makeError(Error::Code::kUnavailable,
                     "publishing to " + w.subject + ": stopped before the stream acknowledged"));
  for (natsMsg* m : spent_)
    natsMsg_Destroy(m);
  conn_.reset();
}

size_t LoopPublisher::pending() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

void LoopPublisher::destroyLater(natsMsg* msg) {
  std::vector<natsMsg*> batch;
  {
    std::lock_guard lock(spentMu_);
    spent_.push_back(msg);
    if (spent_.size() < kDestroyBatch) return;
    batch.swap(spent_);
  }
  for (natsMsg* m : batch)
    natsMsg_Destroy(m);
}

void LoopPublisher::publish(const std::string& subject, std::string_view data,
                            const std::string& msgId, const Headers& headers, Done done) {
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = ++next_;
  }
  const std::string reply = inbox_ + std::to_string(id);
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), reply.c_str(), data.data(),
                                static_cast<int>(data.size()));
  for (const auto& [k, v] : headers)
    if (s == NATS_OK) s = natsMsgHeader_Add(msg, k.c_str(), v.c_str());
  if (s == NATS_OK && !msgId.empty()) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msgId.c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return done(toError(s, "building message for " + subject));
  }
  {
    // Registered first: the acknowledgement may be read before the publish returns.
    std::lock_guard lock(mu_);
    waiting_.emplace(id, Waiting{std::move(done), subject,
                                 std::chrono::steady_clock::now() + maxWait_});
  }
  s = natsConnection_PublishMsg(conn_->raw(), msg);
  if (s != NATS_OK) finish(id, toError(s, "publishing to " + subject));
  destroyLater(msg);
}

void LoopPublisher::finish(uint64_t id, Result<PublishAck> outcome) {
  Done done;
  {
    std::lock_guard lock(mu_);
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;  // (timed out already)
    done = std::move(it->second.done);
    waiting_.erase(it);
  }
  try {
    done(std::move(outcome));
  } catch (const std::exception& e) {
    log::error("publish completion failed", {{"error", e.what()}});
  }
}

void LoopPublisher::drain() {
  for (;;) {
    int msgs = 0, bytes = 0;
    if (natsSubscription_GetPending(sub_, &msgs, &bytes) != NATS_OK || msgs <= 0) return;
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub_, 0) != NATS_OK || m == nullptr) return;
    const char* subj = natsMsg_GetSubject(m);
    const std::string_view subject(subj != nullptr ? subj : "");
    uint64_t id = 0;
    if (subject.size() > inbox_.size()) {
      for (char c : subject.substr(inbox_.size())) {
        if (c < '0' || c > '9') {
          id = 0;
          break;
        }
        id = id * 10 + static_cast<uint64_t>(c - '0');
      }
    }
    std::string target;
    {
      std::lock_guard lock(mu_);
      auto it = waiting_.find(id);
      if (it != waiting_.end()) target = it->second.subject;
    }
    if (!target.empty()) finish(id, outcomeOf(m, target));
    destroyLater(m);
  }
}

void LoopPublisher::expire() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<uint64_t, std::string>> late;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, w] : waiting_)
      if (w.deadline <= now) late.emplace_back(id, w.subject);
  }
  for (auto& [id, subject] : late)
    finish(id, makeError(Error::Code::kTimeout, "publishing to " + subject +
                                                    ": no acknowledgement within " +
                                                    std::to_string(maxWait_.count()) + " ms"));
  if (closed_) return;
  timer_->timer.expires_after(kExpiryTick);
  timer_->timer.async_wait([this](boost::system::error_code ec) {
    if (!ec && !closed_) expire();
  });
}

}  // namespace osmosis::nats
