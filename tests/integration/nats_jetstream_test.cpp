// The NATS layer against a real nats-server with JetStream (binary from OSMOSIS_NATS_SERVER).

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
#include "common/nats/loop_publisher.hpp"
#include "common/nats/subscription.hpp"
#include "tests/fixtures/nats_server.hpp"

namespace osmosis::nats {
namespace {

using namespace std::chrono_literals;
using testing::NatsServer;

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = server_.start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    auto conn = Connection::connect(options());
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    conn_ = conn.value();
    auto js = JetStream::create(conn_);
    ASSERT_TRUE(js.ok()) << js.error().message;
    js_.emplace(std::move(js.value()));
  }

  ConnectionOptions options() const {
    ConnectionOptions o;
    o.urls = {server_.url()};
    o.reconnectWait = 100ms;
    return o;
  }

  void createQueue(nanoseconds ackWait = 30s, std::vector<nanoseconds> backoff = {}) {
    StreamConfig s;
    s.name = "ORDERS";
    s.subjects = {"shop.orders.>"};
    auto si = js_->addStream(s);
    ASSERT_TRUE(si.ok()) << si.error().message;
    ConsumerConfig c;
    c.durable = "workers";
    c.ackWait = ackWait;
    c.backoff = std::move(backoff);
    auto ci = js_->addOrUpdateConsumer("ORDERS", c);
    ASSERT_TRUE(ci.ok()) << ci.error().message;
  }

  PullSubscription subscribe() {
    auto sub = js_->pullSubscribe("ORDERS", "workers");
    EXPECT_TRUE(sub.ok()) << sub.error().message;
    return std::move(sub.value());
  }

  std::vector<Message> fetch(PullSubscription& sub, int batch, std::chrono::milliseconds timeout) {
    auto r = sub.fetch(batch, timeout);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r.value()) : std::vector<Message>{};
  }

  ConsumerInfo info() {
    auto ci = js_->consumerInfo("ORDERS", "workers");
    EXPECT_TRUE(ci.ok()) << ci.error().message;
    return ci.ok() ? ci.value() : ConsumerInfo{};
  }

  static void TearDownTestSuite() { nats_Close(); }

  NatsServer server_;
  std::shared_ptr<Connection> conn_;
  std::optional<JetStream> js_;
};

TEST_F(JetStreamTest, PublishPullAckRoundTrip) {
  createQueue();
  for (int i = 1; i <= 3; ++i) {
    auto seq = js_->publish("shop.orders.new", "order-" + std::to_string(i),
                            "id-" + std::to_string(i), {{"Trace-Id", "t" + std::to_string(i)}});
    ASSERT_TRUE(seq.ok()) << seq.error().message;
    EXPECT_EQ(seq.value(), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(info().numPending, 3u);

  auto sub = subscribe();
  auto msgs = fetch(sub, 10, 5s);
  ASSERT_EQ(msgs.size(), 3u);
  for (size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i].data(), "order-" + std::to_string(i + 1));
    EXPECT_EQ(msgs[i].subject(), "shop.orders.new");
    EXPECT_EQ(msgs[i].streamSequence(), i + 1);
    EXPECT_EQ(msgs[i].deliveryCount(), 1u);
    bool found = false;
    for (const auto& [k, v] : msgs[i].headers())
      found |= (k == "Trace-Id" && v == "t" + std::to_string(i + 1));
    EXPECT_TRUE(found);
  }
  auto during = info();
  EXPECT_EQ(during.numPending, 0u);
  EXPECT_EQ(during.numAckPending, 3);

  for (auto& m : msgs)
    ASSERT_TRUE(m.ackSync().ok());
  auto after = info();
  EXPECT_EQ(after.numAckPending, 0);
  EXPECT_EQ(after.ackFloorStreamSequence, 3u);
  // WorkQueue retention: acked messages leave the stream.
  EXPECT_EQ(js_->streamInfo("ORDERS").value().state.messages, 0u);
}

TEST_F(JetStreamTest, DuplicateMessageIdIsStoredOnce) {
  createQueue();
  ASSERT_TRUE(js_->publish("shop.orders.new", "a", "same-id").ok());
  ASSERT_TRUE(js_->publish("shop.orders.new", "a", "same-id").ok());
  EXPECT_EQ(js_->streamInfo("ORDERS").value().state.messages, 1u);
}

TEST_F(JetStreamTest, UnackedMessageIsRedeliveredAfterAckWait) {
  createQueue(1s);
  ASSERT_TRUE(js_->publish("shop.orders.new", "x").ok());
  auto sub = subscribe();
  auto first = fetch(sub, 1, 5s);
  ASSERT_EQ(first.size(), 1u);
  // Not acked: nothing else is handed out before ackWait passes...
  EXPECT_TRUE(fetch(sub, 1, 200ms).empty());
  // ...and then the same message comes back, marked as a redelivery.
  auto again = fetch(sub, 1, 5s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].streamSequence(), first[0].streamSequence());
  EXPECT_EQ(again[0].deliveryCount(), 2u);
  EXPECT_EQ(info().numRedelivered, 1);
  ASSERT_TRUE(again[0].ackSync().ok());
}

TEST_F(JetStreamTest, NakRedeliversAndTermDoesNot) {
  createQueue(30s);
  ASSERT_TRUE(js_->publish("shop.orders.new", "retry-me").ok());
  ASSERT_TRUE(js_->publish("shop.orders.new", "poison").ok());
  auto sub = subscribe();
  auto msgs = fetch(sub, 2, 5s);
  ASSERT_EQ(msgs.size(), 2u);
  ASSERT_TRUE(msgs[0].nakWithDelay(100ms).ok());
  ASSERT_TRUE(msgs[1].term().ok());
  auto again = fetch(sub, 2, 5s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].data(), "retry-me");
  EXPECT_EQ(again[0].deliveryCount(), 2u);
  ASSERT_TRUE(again[0].ackSync().ok());
  EXPECT_TRUE(fetch(sub, 1, 300ms).empty());
  auto ci = info();
  EXPECT_EQ(ci.numPending, 0u);
  EXPECT_EQ(ci.numAckPending, 0);
}

TEST_F(JetStreamTest, InProgressKeepsALongHandlerFromBeingRedelivered) {
  createQueue(1s);
  ASSERT_TRUE(js_->publish("shop.orders.new", "slow").ok());
  auto sub = subscribe();
  auto msgs = fetch(sub, 1, 5s);
  ASSERT_EQ(msgs.size(), 1u);
  // Work for 2.5 ackWaits, telling the server every 400 ms; each empty fetch is the wait.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(msgs[0].inProgress().ok());
    EXPECT_TRUE(fetch(sub, 1, 400ms).empty()) << "redelivered while in progress";
  }
  ASSERT_TRUE(msgs[0].ackSync().ok());
  EXPECT_EQ(info().numRedelivered, 0);
}

// The sidecar pulls on a connection that writes each publish at once (send-asap) and settles
// through the shared, buffered one: publishes of the ack protocol to the reply subject.
TEST_F(JetStreamTest, SettlingThroughAnotherConnection) {
  createQueue(1s);
  for (const char* body : {"ok", "retry", "poison", "slow"})
    ASSERT_TRUE(js_->publish("shop.orders.new", body).ok());
  ConnectionOptions o = options();
  o.sendAsap = true;
  auto pullConn = Connection::connect(o);
  ASSERT_TRUE(pullConn.ok()) << pullConn.error().message;
  auto pullJs = JetStream::create(pullConn.value());
  ASSERT_TRUE(pullJs.ok()) << pullJs.error().message;
  auto sub = pullJs->pullSubscribe("ORDERS", "workers");
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  auto msgs = fetch(sub.value(), 4, 5s);
  ASSERT_EQ(msgs.size(), 4u);
  ASSERT_TRUE(msgs[0].ack(*conn_).ok());
  ASSERT_TRUE(msgs[1].nakWithDelay(100ms, *conn_).ok());
  ASSERT_TRUE(msgs[2].term(*conn_).ok());
  // "slow" is worked on for 1.6 ackWaits, with in-progress every 400 ms: only "retry" returns.
  std::vector<std::pair<std::string, uint64_t>> back;  // body, delivery count
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(msgs[3].inProgress(*conn_).ok());
    for (auto& m : fetch(sub.value(), 1, 400ms)) {
      back.emplace_back(m.data(), m.deliveryCount());
      ASSERT_TRUE(m.ack(*conn_).ok());
    }
  }
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, "retry");
  EXPECT_EQ(back[0].second, 2u);
  ASSERT_TRUE(msgs[3].ack(*conn_).ok());
  ASSERT_TRUE(conn_->flush(5s).ok());
  // (the flush says the server has the acks; its consumer applies them a moment later)
  ConsumerInfo ci;
  EXPECT_TRUE(testing::eventually(
      [&] {
        ci = info();
        return ci.numPending == 0 && ci.numAckPending == 0;
      },
      5s))
      << "pending " << ci.numPending << ", ack pending " << ci.numAckPending;
}

TEST_F(JetStreamTest, FetchKeepsItsDeadlineOnRepeatedEmptyPulls) {
  createQueue();
  auto sub = subscribe();
  for (int i = 0; i < 4; ++i) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(fetch(sub, 5, 300ms).empty());
    auto took = std::chrono::steady_clock::now() - start;
    // Neither early (nats.c #631) nor stuck; generous upper bound for a loaded machine.
    EXPECT_GE(took, 280ms);
    EXPECT_LT(took, 3s);
  }
}

// A late 408 for an earlier pull request ends libnats' fetch early (nats.c #631). Asking again
// then left two requests open; the fetch returned with a message from one, and the next
// message went into the other while the caller was busy, where it sat unstarted until the ack
// wait. Now the fetch waits on its own request: when it returns, none of ours is open.
TEST_F(JetStreamTest, AnEarlyTimeoutLeavesNoSecondPullRequestOpen) {
  createQueue();
  auto sub = subscribe();
  Result<std::vector<Message>> got = std::vector<Message>{};
  std::thread fetching([&] { got = sub.fetch(1, 5s); });
  const auto waitFor = [&](const std::function<bool(const ConsumerInfo&)>& ok,
                           std::chrono::milliseconds within) {
    const auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      const ConsumerInfo ci = info();
      if (ok(ci) || std::chrono::steady_clock::now() >= until) return ci;
      std::this_thread::sleep_for(10ms);
    }
  };
  ASSERT_EQ(waitFor([](const ConsumerInfo& c) { return c.numWaiting == 1; }, 3s).numWaiting, 1);
  // A status-only message with Status 408 on the delivery subject is what libnats takes for a
  // pull request's timeout.
  ASSERT_TRUE(conn_->publish(sub.deliverSubject(), "", {{"Status", "408"}}).ok());
  ASSERT_TRUE(conn_->flush(2s).ok());
  EXPECT_EQ(waitFor([](const ConsumerInfo& c) { return c.numWaiting > 1; }, 300ms).numWaiting, 1)
      << "a second pull request was sent while the first was open";
  ASSERT_TRUE(js_->publish("shop.orders.new", "a").ok());
  fetching.join();
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 1u) << "the open request brought the message";
  ASSERT_TRUE(js_->publish("shop.orders.new", "b").ok());
  const ConsumerInfo after =
      waitFor([](const ConsumerInfo& c) { return c.numPending + c.numAckPending >= 2; }, 3s);
  EXPECT_EQ(after.numPending, 1u) << "b went into a request left open";
  EXPECT_EQ(after.numAckPending, 1);
  EXPECT_EQ(after.numWaiting, 0);
}

// STREAM.LIST answers 256 streams a page: 300 take two, each with its state.
TEST_F(JetStreamTest, ListingStreamsReadsEveryPage) {
  for (int i = 0; i < 300; ++i) {
    StreamConfig s;
    s.name = "S" + std::to_string(i);
    s.subjects = {"list." + std::to_string(i)};
    s.storage = Storage::kMemory;
    ASSERT_TRUE(js_->addStream(s).ok()) << i;
  }
  for (int n = 0; n < 3; ++n)
    ASSERT_TRUE(js_->publish("list.7", "m").ok());
  auto all = js_->listStreams();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 300u);
  std::set<std::string> names;
  for (const auto& info : all.value()) {
    names.insert(info.config.name);
    EXPECT_FALSE(info.leaderless);
    if (info.config.name == "S7") {
      EXPECT_EQ(info.state.messages, 3u);
      EXPECT_EQ(info.state.lastSequence, 3u);
    }
  }
  EXPECT_EQ(names.size(), 300u) << "no stream twice, none left out";
}

TEST_F(JetStreamTest, MissingStreamAndConsumerAreNotFound) {
  auto si = js_->streamInfo("NOPE");
  ASSERT_FALSE(si.ok());
  EXPECT_EQ(si.error().code, Error::Code::kNotFound) << si.error().message;
  EXPECT_NE(si.error().message.find("NOPE"), std::string::npos);
  createQueue();
  auto ci = js_->consumerInfo("ORDERS", "nobody");
  ASSERT_FALSE(ci.ok());
  EXPECT_EQ(ci.error().code, Error::Code::kNotFound) << ci.error().message;
  auto sub = js_->pullSubscribe("ORDERS", "nobody");
  EXPECT_FALSE(sub.ok());
}

TEST_F(JetStreamTest, OverlappingSubjectsAreAConflict) {
  createQueue();
  StreamConfig other;
  other.name = "OTHER";
  other.subjects = {"shop.>"};
  auto r = js_->addStream(other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Error::Code::kConflict) << r.error().message;
}

TEST_F(JetStreamTest, StreamAndConsumerSurviveACleanRestartAndACrash) {
  createQueue();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(js_->publish("shop.orders.new", std::to_string(i)).ok());
  {
    auto sub = subscribe();
    auto msgs = fetch(sub, 2, 5s);
    ASSERT_EQ(msgs.size(), 2u);
    for (auto& m : msgs)
      ASSERT_TRUE(m.ackSync().ok());
  }
  js_.reset();
  conn_.reset();

  ASSERT_TRUE(server_.stop().ok());
  ASSERT_TRUE(server_.start().ok());
  server_.crash();  // and once more the hard way
  auto restarted = server_.start();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;

  auto conn = Connection::connect(options());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  auto js = JetStream::create(conn.value());
  ASSERT_TRUE(js.ok());
  auto ci = js.value().consumerInfo("ORDERS", "workers");
  ASSERT_TRUE(ci.ok()) << ci.error().message;
  EXPECT_EQ(ci.value().numPending, 3u);
  auto sub = js.value().pullSubscribe("ORDERS", "workers");
  ASSERT_TRUE(sub.ok());
  auto rest = sub.value().fetch(10, 5s);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest.value().size(), 3u);
  EXPECT_EQ(rest.value()[0].streamSequence(), 3u);
  for (auto& m : rest.value())
    ASSERT_TRUE(m.ackSync().ok());
}

TEST_F(JetStreamTest, ConnectionReconnectsAfterServerRestart) {
  createQueue();
  ASSERT_TRUE(server_.stop().ok());
  auto impatient = JetStream::create(conn_, 500ms);
  ASSERT_TRUE(impatient.ok());
  auto failed = impatient.value().publish("shop.orders.new", "while-down");
  EXPECT_FALSE(failed.ok());
  ASSERT_TRUE(server_.start().ok());
  bool back = testing::eventually([&] { return conn_->connected(); }, 10s);
  ASSERT_TRUE(back) << "the connection did not reconnect";
  auto seq = js_->publish("shop.orders.new", "after");
  ASSERT_TRUE(seq.ok()) << seq.error().message;
}

// ---- publishing on an io_context (the gateway's POSTs) ----

// An io_context run by one thread, as the gateway's HTTP server runs its own.
class LoopPublisherTest : public JetStreamTest {
 protected:
  void SetUp() override {
    JetStreamTest::SetUp();
    if (HasFatalFailure()) return;
    thread_ = std::thread([this] {
      loopThread_ = std::this_thread::get_id();
      io_.run();
    });
  }
  void TearDown() override {
    if (publisher_) publisher_->close();
    work_.reset();
    if (thread_.joinable()) thread_.join();  // (ends only once the publisher left no work)
    publisher_.reset();
  }
  void connect(std::chrono::milliseconds maxWait = 5s) {
    auto p = LoopPublisher::connect(options(), io_, maxWait);
    ASSERT_TRUE(p.ok()) << p.error().message;
    publisher_ = std::move(p.value());
  }
  struct Outcome {
    Result<PublishAck> result = makeError(Error::Code::kInternal, "not answered");
    std::thread::id thread;
  };
  // Publishes and waits for the outcome.
  Outcome publish(const std::string& subject, const std::string& data, const std::string& id = "",
                  std::chrono::seconds wait = 10s) {
    auto answered = std::make_shared<std::promise<Outcome>>();
    auto future = answered->get_future();
    publisher_->publish(subject, data, id, {{"Trace-Id", "t"}}, [answered](Result<PublishAck> r) {
      answered->set_value(Outcome{std::move(r), std::this_thread::get_id()});
    });
    if (future.wait_for(wait) != std::future_status::ready) {
      ADD_FAILURE() << "no outcome for " << subject;
      return Outcome{};
    }
    return future.get();
  }

  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread thread_;
  std::thread::id loopThread_;
  std::unique_ptr<LoopPublisher> publisher_;
};

TEST_F(LoopPublisherTest, AcknowledgementsArriveOnTheLoopsThread) {
  createQueue();
  connect();
  constexpr int kCount = 200;
  std::mutex mu;
  std::vector<Outcome> outcomes;
  for (int i = 0; i < kCount; ++i) {
    publisher_->publish("shop.orders.new", "order-" + std::to_string(i), "", {},
                        [&](Result<PublishAck> r) {
                          std::lock_guard lock(mu);
                          outcomes.push_back(Outcome{std::move(r), std::this_thread::get_id()});
                        });
  }
  ASSERT_TRUE(testing::eventually(
      [&] {
        std::lock_guard lock(mu);
        return outcomes.size() == kCount;
      },
      10s));
  std::set<uint64_t> sequences;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.result.ok()) << o.result.error().message;
    EXPECT_EQ(o.result.value().stream, "ORDERS");
    EXPECT_FALSE(o.result.value().duplicate);
    EXPECT_EQ(o.thread, loopThread_);
    sequences.insert(o.result.value().sequence);
  }
  EXPECT_EQ(sequences.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(*sequences.begin(), 1u);
  EXPECT_EQ(*sequences.rbegin(), static_cast<uint64_t>(kCount));
  EXPECT_EQ(publisher_->pending(), 0u);
  EXPECT_EQ(js_->streamInfo("ORDERS").value().state.messages, static_cast<uint64_t>(kCount));
  // The message as stored: body and headers.
  auto sub = subscribe();
  auto first = fetch(sub, 1, 5s);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].data(), "order-0");
}

TEST_F(LoopPublisherTest, AMessageIdIsStoredOnceAndTheRetryIsTold) {
  createQueue();
  connect();
  auto once = publish("shop.orders.new", "a", "same-id");
  auto again = publish("shop.orders.new", "a", "same-id");
  ASSERT_TRUE(once.result.ok()) << once.result.error().message;
  ASSERT_TRUE(again.result.ok()) << again.result.error().message;
  EXPECT_FALSE(once.result.value().duplicate);
  EXPECT_TRUE(again.result.value().duplicate);
  EXPECT_EQ(once.result.value().sequence, again.result.value().sequence);
  EXPECT_EQ(js_->streamInfo("ORDERS").value().state.messages, 1u);
}

TEST_F(LoopPublisherTest, RefusalsSayWhy) {
  StreamConfig full;
  full.name = "FULL";
  full.subjects = {"full.>"};
  full.retention = Retention::kLimits;
  full.maxMsgs = 1;
  full.discard = Discard::kNew;
  ASSERT_TRUE(js_->addStream(full).ok());
  connect(2s);
  // No stream takes the subject (the server sends no "no responders" to a publish's reply
  // subject here: it is the deadline that says so).
  auto nowhere = publish("nowhere.at.all", "x");
  ASSERT_FALSE(nowhere.result.ok());
  EXPECT_EQ(nowhere.result.error().code, Error::Code::kTimeout);
  EXPECT_NE(nowhere.result.error().message.find("nowhere.at.all"), std::string::npos);
  // A full stream that discards new messages: JetStream's error code travels as the reason.
  ASSERT_TRUE(publish("full.a", "1").result.ok());
  auto refused = publish("full.a", "2");
  ASSERT_FALSE(refused.result.ok());
  EXPECT_EQ(refused.result.error().reason, "10077") << refused.result.error().message;
  EXPECT_EQ(refused.thread, loopThread_);
  // Over the server's max payload (1 MB): refused before it is sent.
  auto large = publish("full.b", std::string(2 * 1024 * 1024, 'x'));
  ASSERT_FALSE(large.result.ok());
  EXPECT_NE(large.result.error().message.find("Payload"), std::string::npos)
      << large.result.error().message;
  EXPECT_EQ(publisher_->pending(), 0u);
}

TEST_F(LoopPublisherTest, WhileTheServerIsAwayPublishesTimeOutThenSucceedAgain) {
  createQueue();
  connect(300ms);
  ASSERT_TRUE(publish("shop.orders.new", "before").result.ok());
  ASSERT_TRUE(server_.stop().ok());
  auto away = publish("shop.orders.new", "while-down");
  ASSERT_FALSE(away.result.ok());
  EXPECT_EQ(away.result.error().code, Error::Code::kTimeout) << away.result.error().message;
  EXPECT_EQ(away.thread, loopThread_);
  ASSERT_TRUE(server_.start().ok());
  EXPECT_TRUE(
      testing::eventually([&] { return publish("shop.orders.new", "after").result.ok(); }, 15s))
      << "publishing did not recover after the server came back";
  EXPECT_TRUE(publisher_->connected());
}

TEST_F(LoopPublisherTest, ClosingLeavesTheLoopNothingToWaitFor) {
  createQueue();
  connect();
  ASSERT_TRUE(publish("shop.orders.new", "one").result.ok());
  publisher_->close();
  work_.reset();
  // The loop's thread ends by itself: no timer, no wait on the closed socket is left.
  EXPECT_TRUE(testing::eventually([&] { return io_.stopped(); }, 5s));
  auto after = publish("shop.orders.new", "late", "", 1s);
  EXPECT_FALSE(after.result.ok());
}

// ---- connecting: unreachable servers and credentials ----

TEST_F(JetStreamTest, CoreSubscriptionDeliversMatchingSubjectsUntilDestroyed) {
  std::mutex mu;
  std::vector<std::string> got;
  auto sub = Subscription::subscribe(conn_, "osmosis.report.>", [&](auto subject, auto data) {
    std::lock_guard lock(mu);
    got.push_back(std::string(subject) + "=" + std::string(data));
  });
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  ASSERT_TRUE(conn_->flush(5s).ok());
  ASSERT_TRUE(conn_->publish("osmosis.report.shop.orders", "r1").ok());
  ASSERT_TRUE(conn_->publish("other.subject", "no").ok());
  ASSERT_TRUE(conn_->flush(5s).ok());
  ASSERT_TRUE(testing::eventually(
      [&] {
        std::lock_guard lock(mu);
        return !got.empty();
      },
      5s));
  sub.value().reset();  // unsubscribes; nothing arrives after this
  ASSERT_TRUE(conn_->publish("osmosis.report.shop.orders", "r2").ok());
  ASSERT_TRUE(conn_->flush(5s).ok());
  std::lock_guard lock(mu);
  EXPECT_EQ(got, std::vector<std::string>{"osmosis.report.shop.orders=r1"});
}

// A stream read whose request goes unanswered (in a cluster: it reached a leader that was
// leaving) is asked once more, at once; a write that goes unanswered is not (it may have
// been carried out). The server maps the two API subjects to a responder of ours, which
// stays silent when told to, so the request really goes unanswered on a real server.
class UnansweredApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::makeTempDir("osmosis-unanswered-");
    const std::string conf = dir_ + "/server.conf";
    std::ofstream(conf) << "mappings {\n"
                        << R"(  "$JS.API.STREAM.INFO.SILENT": "osmosis.test.api")"
                        << "\n"
                        << R"(  "$JS.API.STREAM.DELETE.SILENT": "osmosis.test.api")"
                        << "\n}\n";
    server_.setExtraArgs({"-c", conf});
    auto started = server_.start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    ConnectionOptions o;
    o.urls = {server_.url()};
    auto conn = Connection::connect(o);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    conn_ = conn.value();
    ASSERT_EQ(natsConnection_Subscribe(&sub_, conn_->raw(), "osmosis.test.api",
                                       &UnansweredApiTest::onRequest, this),
              NATS_OK);
    ASSERT_TRUE(conn_->flush(5s).ok());
    auto js = JetStream::create(conn_, 500ms);
    ASSERT_TRUE(js.ok()) << js.error().message;
    js_.emplace(std::move(js.value()));
  }
  void TearDown() override {
    if (sub_ != nullptr) natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
    std::filesystem::remove_all(dir_);
  }

  // Silent to the first `silent` requests, then answers with a stream's info.
  static void onRequest(natsConnection* nc, natsSubscription*, natsMsg* msg, void* self) {
    auto* t = static_cast<UnansweredApiTest*>(self);
    const int n = ++t->requests_;
    if (n > t->silent_.load() && natsMsg_GetReply(msg) != nullptr)
      natsConnection_PublishString(
          nc, natsMsg_GetReply(msg),
          R"({"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"SILENT","subjects":["silent.>"]},"state":{"messages":7}})");
    natsMsg_Destroy(msg);
  }

  NatsServer server_;
  std::string dir_;
  std::shared_ptr<Connection> conn_;
  natsSubscription* sub_ = nullptr;
  std::optional<JetStream> js_;
  std::atomic<int> requests_{0};
  std::atomic<int> silent_{0};
};

TEST_F(UnansweredApiTest, AReadIsAskedOnceMoreAtOnce) {
  silent_ = 1;
  auto info = js_->streamInfo("SILENT");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->state.messages, 7u);
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(UnansweredApiTest, AReadUnansweredTwiceIsATimeout) {
  silent_ = 1000;
  auto info = js_->streamInfo("SILENT");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, Error::Code::kTimeout) << info.error().message;
  EXPECT_NE(info.error().message.find("reading stream SILENT"), std::string::npos)
      << info.error().message;
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(UnansweredApiTest, AnUnansweredWriteIsNotAskedAgain) {
  silent_ = 1000;
  auto deleted = js_->deleteStream("SILENT");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, Error::Code::kTimeout) << deleted.error().message;
  ASSERT_TRUE(conn_->flush(5s).ok());
  EXPECT_EQ(requests_.load(), 1);
}

// The fixture's own guard against another test process taking its port between freePort()
// and the server's bind (ctest runs tests in parallel processes).
TEST(NatsServerFixture, AFirstStartWhosePortWasTakenMovesToFreeOnes) {
  NatsServer server;
  const int taken = server.port();
  const int fd = testing::listenOnLoopback(taken);
  ASSERT_GE(fd, 0);
  auto started = server.start();
  ::close(fd);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_NE(server.port(), taken);
  ConnectionOptions o;
  o.urls = {server.url()};
  auto conn = Connection::connect(o);
  EXPECT_TRUE(conn.ok()) << conn.error().message;
}

TEST(NatsConnect, UnreachableServerIsAClearUnavailableError) {
  ConnectionOptions o;
  o.urls = {"nats://127.0.0.1:" + std::to_string(testing::freePort())};
  o.connectTimeout = 500ms;
  auto r = Connection::connect(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Error::Code::kUnavailable);
  EXPECT_NE(r.error().message.find(o.urls[0]), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("is nats-server running"), std::string::npos)
      << r.error().message;
}

TEST(NatsConnect, InvalidOptionsAreRefusedBeforeConnecting) {
  ConnectionOptions o;
  o.urls = {"http://nope"};
  auto r = Connection::connect(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Error::Code::kInvalidArgument);
}

TEST(NatsConnect, MissingCredsFileIsInvalidArgument) {
  ConnectionOptions o;
  o.credsFile = "/nonexistent/osmosis.creds";
  auto r = Connection::connect(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/osmosis.creds"), std::string::npos)
      << r.error().message;
}

TEST(NatsConnect, UserPasswordAreCheckedByTheServer) {
  NatsServer server({.binary = "", .extraArgs = {"--user", "osmosis", "--pass", "right"}});
  ASSERT_TRUE(server.start().ok());
  ConnectionOptions o;
  o.urls = {server.url()};
  o.user = "osmosis";
  o.password = "wrong";
  auto refused = Connection::connect(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Error::Code::kUnauthenticated) << refused.error().message;
  EXPECT_NE(refused.error().message.find("uthoriz"), std::string::npos) << refused.error().message;
  o.password = "right";
  auto ok = Connection::connect(o);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST(NatsConnect, TokenIsCheckedByTheServer) {
  NatsServer server({.binary = "", .extraArgs = {"--auth", "s3cret"}});
  ASSERT_TRUE(server.start().ok());
  ConnectionOptions o;
  o.urls = {server.url()};
  auto none = Connection::connect(o);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Error::Code::kUnauthenticated) << none.error().message;
  o.token = "s3cret";
  auto ok = Connection::connect(o);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

// Hostile input (issue 16, item 1). libnats 3.4.1 wrote subjects into the stream-create JSON
// unescaped: this subject made a stream that sourced another namespace's stream. Our requests
// are built with nlohmann/json, so the server sees one (odd) subject string and no more.
TEST_F(JetStreamTest, AStreamConfigCannotBeInjectedThroughASubject) {
  StreamConfig victim;
  victim.name = "VICTIM3_DATA";
  victim.subjects = {"victim3.>"};
  victim.retention = Retention::kLimits;
  ASSERT_TRUE(js_->addStream(victim).ok());
  ASSERT_TRUE(js_->publish("victim3.secret", "payroll").ok());

  StreamConfig attack;
  attack.name = "RD_INJ3";
  attack.subjects = {R"(inj3.a"],"sources":[{"name":"VICTIM3_DATA"}],"subjects":["inj3.a)"};
  attack.retention = Retention::kLimits;
  auto created = js_->addStream(attack);
  // Depending on the server version the odd subject is refused or kept literally; either way
  // nothing else of the request is obeyed.
  natsMsg* reply = nullptr;
  ASSERT_EQ(
      natsConnection_RequestString(&reply, conn_->raw(), "$JS.API.STREAM.INFO.RD_INJ3", "", 2000),
      NATS_OK);
  std::string info(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  auto j = nlohmann::json::parse(info);
  EXPECT_FALSE(j.contains("sources") ||
               j.value("config", nlohmann::json::object()).contains("sources"))
      << info;
  if (created) {
    EXPECT_EQ(j["config"]["subjects"], nlohmann::json(attack.subjects)) << info;
    EXPECT_EQ(created->config.subjects, attack.subjects);
    EXPECT_EQ(created->state.messages, 0u) << "nothing copied from the victim";
  } else {
    EXPECT_NE(info.find("stream not found"), std::string::npos) << info;
  }
}

// A server reply we cannot read is an error with a reason, never a crash.
TEST_F(JetStreamTest, ErrorsFromTheApiNameTheOperationAndTheServersWords) {
  auto missing = js_->streamInfo("NOPE");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Error::Code::kNotFound);
  EXPECT_NE(missing.error().message.find("reading stream NOPE"), std::string::npos);
  StreamConfig a;
  a.name = "A";
  a.subjects = {"x.>"};
  ASSERT_TRUE(js_->addStream(a).ok());
  StreamConfig b = a;
  b.name = "B";
  auto overlap = js_->addStream(b);
  ASSERT_FALSE(overlap.ok());
  EXPECT_EQ(overlap.error().code, Error::Code::kConflict) << overlap.error().message;
  auto consumer = js_->consumerInfo("A", "nobody");
  ASSERT_FALSE(consumer.ok());
  EXPECT_EQ(consumer.error().code, Error::Code::kNotFound);
}

}  // namespace
}  // namespace osmosis::nats
