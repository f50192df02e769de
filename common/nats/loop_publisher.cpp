#include "common/nats/loop_publisher.hpp"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <charconv>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log/logger.hpp"
#include "common/nats/asio_loop.hpp"
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
  auto stream = j.find("stream");
  auto seq = j.find("seq");
  auto dup = j.find("duplicate");
  if (stream == j.end() || !stream->is_string() || stream->get<std::string>().empty() ||
      seq == j.end() || !seq->is_number_unsigned() || seq->get<uint64_t>() == 0 ||
      (dup != j.end() && !dup->is_boolean()))
    return makeError(Error::Code::kInternal, doing + ": not a stream's acknowledgement");
  return PublishAck{stream->get<std::string>(), seq->get<uint64_t>(),
                    dup != j.end() && dup->get<bool>()};
}

// The publish a reply subject answers: the number after the inbox; 0 when it is not one.
uint64_t idOf(std::string_view subject, std::string_view inbox) {
  if (subject.size() <= inbox.size() || subject.substr(0, inbox.size()) != inbox) return 0;
  const std::string_view digits = subject.substr(inbox.size());
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  return ec == std::errc() && end == digits.data() + digits.size() ? id : 0;
}
}  // namespace

struct LoopPublisher::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, std::chrono::milliseconds wait)
      : maxWait(wait), strand(asio::make_strand(io)), timer(strand) {}
  ~State() {
    for (natsMsg* m : spent)
      natsMsg_Destroy(m);
    if (sub != nullptr) natsSubscription_Destroy(sub);
  }

  struct Waiting {
    Done done;
    std::string subject;
    std::chrono::steady_clock::time_point deadline;
  };
  const std::chrono::milliseconds maxWait;
  AsioLoop loop;  // (libnats keeps a pointer to it for every reconnection)
  // Set before `ready`; read by drain() only after it.
  std::string inbox;
  natsSubscription* sub = nullptr;
  std::atomic<bool> ready{false};
  std::atomic<bool> closed{false};
  asio::strand<asio::io_context::executor_type> strand;  // the timer's
  asio::steady_timer timer;

  std::mutex mu;
  uint64_t next = 0;
  std::unordered_map<uint64_t, Waiting> waiting;
  // Messages are destroyed a batch at a time: libnats frees each destroyed message on its
  // garbage-collector thread, woken for every one when it is idle.
  std::mutex spentMu;
  std::vector<natsMsg*> spent;

  void destroyLater(natsMsg* msg) {
    std::vector<natsMsg*> batch;
    {
      std::lock_guard lock(spentMu);
      spent.push_back(msg);
      if (spent.size() < kDestroyBatch) return;
      batch.swap(spent);
    }
    for (natsMsg* m : batch)
      natsMsg_Destroy(m);
  }

  // The publish `id` if it still waits (not timed out, not answered), no longer waiting.
  std::optional<Waiting> take(uint64_t id) {
    std::lock_guard lock(mu);
    auto it = waiting.find(id);
    if (it == waiting.end()) return std::nullopt;
    Waiting w = std::move(it->second);
    waiting.erase(it);
    return w;
  }

  static void complete(Waiting& w, Result<PublishAck> outcome) {
    try {
      w.done(std::move(outcome));
    } catch (const std::exception& e) {
      log::error("publish completion failed", {{"error", e.what()}});
    }
  }

  // The acknowledgements that arrived (io_context thread, after a read of the socket).
  void drain() {
    if (!ready) return;
    for (;;) {
      int msgs = 0, bytes = 0;
      if (natsSubscription_GetPending(sub, &msgs, &bytes) != NATS_OK || msgs <= 0) return;
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub, 0) != NATS_OK || m == nullptr) return;
      const char* subj = natsMsg_GetSubject(m);
      // (a reply to nothing waiting: late, after its timeout; or not ours)
      if (auto w = take(idOf(subj != nullptr ? subj : "", inbox)))
        complete(*w, outcomeOf(m, w->subject));
      destroyLater(m);
    }
  }

  // On the strand, every tick until closed.
  void expire() {
    if (closed) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<Waiting> late;
    {
      std::lock_guard lock(mu);
      for (auto it = waiting.begin(); it != waiting.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        late.push_back(std::move(it->second));
        it = waiting.erase(it);
      }
    }
    for (auto& w : late)
      complete(w, makeError(Error::Code::kTimeout, "publishing to " + w.subject +
                                                       ": no acknowledgement within " +
                                                       std::to_string(maxWait.count()) + " ms"));
    timer.expires_after(kExpiryTick);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->expire();
    });
  }
};

// With TLS: an io_context and a thread of its own.
struct LoopPublisher::OwnLoop {
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  // Once nothing is left to wait for, run() returns: no handler is left either.
  void finish() {
    work.reset();
    if (thread.joinable()) thread.join();
  }
  ~OwnLoop() { finish(); }
};

Result<std::unique_ptr<LoopPublisher>> LoopPublisher::connect(ConnectionOptions options,
                                                              asio::io_context& io,
                                                              std::chrono::milliseconds maxWait) {
  std::unique_ptr<LoopPublisher> p(new LoopPublisher());
  if (options.tls.enabled()) p->own_ = std::make_unique<OwnLoop>();
  asio::io_context& runner = p->own_ ? p->own_->io : io;
  auto state = std::make_shared<State>(runner, maxWait);
  p->state_ = state;
  state->loop.io = &runner;
  state->loop.afterRead = [weak = std::weak_ptr<State>(state)] {
    if (auto s = weak.lock()) s->drain();
  };
  options.loop = &state->loop;
  natsInbox* unique = nullptr;
  natsStatus s = natsInbox_Create(&unique);
  if (s != NATS_OK) return toError(s, "making an inbox for acknowledgements");
  state->inbox = std::string(unique) + ".";
  natsInbox_Destroy(unique);
  auto conn = Connection::connect(options);
  if (!conn) return conn.error();
  p->conn_ = std::move(conn.value());
  const std::string filter = state->inbox + "*";
  s = natsConnection_SubscribeSync(&state->sub, p->conn_->raw(), filter.c_str());
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(state->sub, -1, -1);
  if (s != NATS_OK) return toError(s, "subscribing to acknowledgements on " + filter);
  state->ready = true;
  asio::post(state->strand, [state] { state->expire(); });
  return p;
}

void LoopPublisher::close() {
  if (!state_ || state_->closed.exchange(true)) return;
  state_->ready = false;
  if (conn_) natsConnection_Close(conn_->raw());  // (libnats then detaches: the socket's waits end)
  asio::post(state_->strand, [s = state_] { s->timer.cancel(); });
}

LoopPublisher::~LoopPublisher() {
  close();
  if (own_) own_->finish();
  if (!state_) return;
  std::unordered_map<uint64_t, State::Waiting> left;
  {
    std::lock_guard lock(state_->mu);
    left.swap(state_->waiting);
  }
  for (auto& [id, w] : left)
    State::complete(
        w, makeError(Error::Code::kUnavailable,
                     "publishing to " + w.subject + ": stopped before the stream acknowledged"));
  conn_.reset();
  state_.reset();  // (its strand and timer go before their io_context: own_'s is destroyed next)
}

bool LoopPublisher::connected() const {
  return conn_ && !state_->closed && conn_->connected();
}

size_t LoopPublisher::pending() const {
  std::lock_guard lock(state_->mu);
  return state_->waiting.size();
}

void LoopPublisher::publish(const std::string& subject, std::string_view data,
                            const std::string& msgId, const Headers& headers, Done done) {
  State& st = *state_;
  if (st.closed)
    return done(makeError(Error::Code::kUnavailable,
                          "publishing to " + subject + ": the connection is closed"));
  uint64_t id;
  {
    std::lock_guard lock(st.mu);
    id = ++st.next;
  }
  const std::string reply = st.inbox + std::to_string(id);
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
    std::lock_guard lock(st.mu);
    st.waiting.emplace(id, State::Waiting{std::move(done), subject,
                                          std::chrono::steady_clock::now() + st.maxWait});
  }
  s = natsConnection_PublishMsg(conn_->raw(), msg);
  if (s != NATS_OK)
    if (auto w = st.take(id)) State::complete(*w, toError(s, "publishing to " + subject));
  st.destroyLater(msg);
}

}  // namespace osmosis::nats
