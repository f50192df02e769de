// The sidecar in dispatch mode, as a real process between a real nats-server and a real HTTP
// app (tests/fixtures/test_app.cpp): every delivery outcome, asserted on what the server shows.

#include <gtest/gtest.h>

#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;

class SidecarDispatchTest : public SidecarFixture {
 protected:
  void SetUp() override {
    SidecarFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  }

  // Waits until the consumer has nothing pending or unacked and the stream is empty.
  bool drained(std::chrono::milliseconds timeout = 20s) {
    return eventually(
        [&] {
          auto ci = consumer();
          return ci.numPending == 0 && ci.numAckPending == 0 && streamMessages() == 0;
        },
        timeout, 50ms);
  }
};

TEST_F(SidecarDispatchTest, SuccessAcksAndPassesIdsSubjectAndHeaders) {
  createQueue();
  auto app = startApp(freePort(), {"--record-headers"});
  auto sidecar = startSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  uint64_t seq1 = publish("id=a", {{"Trace-Id", "t-1"}, {"Content-Type", "application/json"}});
  uint64_t seq2 = publish("id=b", {{"Content-Length", "999"}}, "shop.orders.eu");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);

  auto done = events(readRecords(app.record), "done", 200);
  ASSERT_EQ(done.size(), 2u);
  auto starts = events(readRecords(app.record), "start");
  ASSERT_EQ(starts.size(), 2u);
  for (const auto& s : starts) {
    const auto& h = s["headers"];
    EXPECT_EQ(h["Osmosis-Delivery-Count"], "1");
    EXPECT_EQ(h["Osmosis-Channel"], "orders");
    EXPECT_EQ(h["Osmosis-Namespace"], "shop");
    EXPECT_EQ(s["path"], "/");
    if (s["id"] == "a") {
      EXPECT_EQ(h["Osmosis-Message-Id"], std::to_string(seq1));
      EXPECT_EQ(h["Osmosis-Subject"], "shop.orders.new");
      EXPECT_EQ(h["Trace-Id"], "t-1");
      EXPECT_EQ(h["Content-Type"], "application/json");
      EXPECT_EQ(s["body"], "id=a");
    } else {
      EXPECT_EQ(h["Osmosis-Message-Id"], std::to_string(seq2));
      EXPECT_EQ(h["Osmosis-Subject"], "shop.orders.eu");
      // A NATS header that would break HTTP framing is renamed, not passed as-is.
      EXPECT_EQ(h["Osmosis-Nats-Content-Length"], "999");
      EXPECT_EQ(h["Content-Length"], "4");
      EXPECT_EQ(h["Content-Type"], "application/octet-stream");
    }
  }
  EXPECT_EQ(consumer().numRedelivered, 0);

  auto metrics = httpGet(sidecar.healthPort, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("osmosis_sidecar_messages_acked_total 2\n"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("osmosis_sidecar_messages_delivered_total 2\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("osmosis_sidecar_delivery_duration_seconds_count 2\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("osmosis_sidecar_messages_in_flight 0\n"), std::string::npos);
  EXPECT_EQ(httpGet(sidecar.healthPort, "/healthz").status, 200);

  sidecar.process.signal(SIGTERM);
  auto exit = sidecar.process.waitFor(10s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0);
}

TEST_F(SidecarDispatchTest, ClientErrorTermsAndDeadLetters) {
  createQueue();
  createDeadLetterStream();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--dead-letter-subject", "shop.dead"});
  ASSERT_TRUE(waitReady(sidecar));
  uint64_t seq = publish("id=bad status=422", {{"Trace-Id", "t-9"}});
  publish("id=good");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  ASSERT_TRUE(eventually([&] { return streamMessages("DEAD") == 1; }, 10s));

  auto records = readRecords(app.record);
  EXPECT_EQ(events(records, "done", 422).size(), 1u);  // delivered once, never again
  EXPECT_EQ(events(records, "done", 200).size(), 1u);
  EXPECT_EQ(consumer().numRedelivered, 0);

  nats::ConsumerConfig c;
  c.durable = "inspect";
  ASSERT_TRUE(js_->addOrUpdateConsumer("DEAD", c).ok());
  auto sub = js_->pullSubscribe("DEAD", "inspect");
  ASSERT_TRUE(sub.ok());
  auto msgs = sub->fetch(1, 5s);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 1u);
  auto& m = msgs->front();
  EXPECT_EQ(m.data(), "id=bad status=422");
  std::map<std::string, std::string> h;
  for (auto& [k, v] : m.headers())
    h[k] = v;
  EXPECT_EQ(h["Osmosis-Error-Status"], "422");
  EXPECT_EQ(h["Osmosis-Original-Subject"], "shop.orders.new");
  EXPECT_EQ(h["Osmosis-Message-Id"], std::to_string(seq));
  EXPECT_EQ(h["Osmosis-Channel"], "orders");
  EXPECT_EQ(h["Trace-Id"], "t-9");
  EXPECT_NE(h["Osmosis-Error"].find("422"), std::string::npos);
  auto metrics = httpGet(sidecar.healthPort, "/metrics").body;
  EXPECT_NE(metrics.find("osmosis_sidecar_messages_termed_total 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("osmosis_sidecar_messages_dead_lettered_total 1\n"), std::string::npos);
}

TEST_F(SidecarDispatchTest, ClientErrorWithoutDeadLetterSubjectOnlyTerms) {
  createQueue();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar));
  publish("id=bad status=400");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  EXPECT_EQ(events(readRecords(app.record), "start").size(), 1u);
  EXPECT_EQ(consumer().numRedelivered, 0);
}

// 429 and 5xx: nak with the backoff delay; the message comes back and succeeds.
class SidecarRetryTest : public SidecarDispatchTest, public ::testing::WithParamInterface<int> {};

TEST_P(SidecarRetryTest, TransientStatusNaksWithBackoffThenSucceeds) {
  createQueue();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--backoff", "300ms,600ms"});
  ASSERT_TRUE(waitReady(sidecar));
  const int status = GetParam();
  publish("id=x fail-first=2 fail-status=" + std::to_string(status));
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto records = readRecords(app.record);
  auto failed = events(records, "done", status);
  auto ok = events(records, "done", 200);
  ASSERT_EQ(failed.size(), 2u);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0]["delivery"], 3);
  // The nak delays were applied (lower bounds only: the server may be later, never earlier).
  auto starts = events(records, "start");
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_GE(starts[1]["t"].get<int64_t>() - failed[0]["t"].get<int64_t>(), 250);
  EXPECT_GE(starts[2]["t"].get<int64_t>() - failed[1]["t"].get<int64_t>(), 550);
  EXPECT_EQ(consumer().numAckPending, 0);
  auto metrics = httpGet(sidecar.healthPort, "/metrics").body;
  EXPECT_NE(metrics.find("osmosis_sidecar_messages_nakked_total 2\n"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Statuses, SidecarRetryTest, ::testing::Values(429, 500, 503),
                         [](const auto& p) { return "Status" + std::to_string(p.param); });

TEST_F(SidecarDispatchTest, RetryAfterHeaderSetsTheNakDelay) {
  createQueue();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--backoff", "50ms"});
  ASSERT_TRUE(waitReady(sidecar));
  publish("id=x fail-first=1 fail-status=429 retry-after=1");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto records = readRecords(app.record);
  auto starts = events(records, "start");
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_GE(starts[1]["t"].get<int64_t>() - starts[0]["t"].get<int64_t>(), 900);
}

TEST_F(SidecarDispatchTest, TimeoutNaksAndTheMessageComesBack) {
  createQueue();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--message-timeout", "300ms", "--backoff", "100ms"});
  ASSERT_TRUE(waitReady(sidecar));
  publish("id=slow delay=1500 slow-first=1");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto records = readRecords(app.record);
  auto ok = events(records, "done", 200);
  ASSERT_FALSE(ok.empty());
  EXPECT_EQ(ok.back()["delivery"], 2);  // the first delivery timed out and was nakked
  EXPECT_NE(readFile(sidecar.log).find("did not answer within the message timeout"),
            std::string::npos);
}

TEST_F(SidecarDispatchTest, SlowHandlerGetsInProgressAndIsNotRedelivered) {
  createQueue(1s);
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--message-timeout", "20s"});
  ASSERT_TRUE(waitReady(sidecar));
  publish("id=long delay=3500");
  ASSERT_TRUE(drained(30s)) << readFile(sidecar.log);
  auto records = readRecords(app.record);
  EXPECT_EQ(events(records, "start").size(), 1u);  // 3.5 s of work under a 1 s ackWait
  EXPECT_EQ(consumer().numRedelivered, 0);
  EXPECT_NE(readFile(sidecar.log).find("in-progress sent"), std::string::npos);
}

TEST_F(SidecarDispatchTest, LastAllowedDeliveryFailingIsDeadLettered) {
  createQueue(30s, 2);
  createDeadLetterStream();
  auto app = startApp(freePort());
  auto sidecar =
      startSidecar(app.port, {"--backoff", "50ms", "--dead-letter-subject", "shop.dead"});
  ASSERT_TRUE(waitReady(sidecar));
  publish("id=doomed status=500");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  ASSERT_TRUE(eventually([&] { return streamMessages("DEAD") == 1; }, 10s));
  EXPECT_EQ(events(readRecords(app.record), "start").size(), 2u);
}

TEST_F(SidecarDispatchTest, AppDownAtStartBurnsNoDeliveries) {
  createQueue();
  const int appPort = freePort();
  auto sidecar = startSidecar(appPort);
  for (int i = 0; i < 5; ++i)
    publish("id=m" + std::to_string(i));
  ASSERT_TRUE(eventually(
      [&] { return readFile(sidecar.log).find("waiting for the app") != std::string::npos; }, 20s))
      << readFile(sidecar.log);
  auto ready = httpGet(sidecar.healthPort, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("app not accepting connections"), std::string::npos) << ready.body;
  EXPECT_EQ(httpGet(sidecar.healthPort, "/healthz").status, 200);
  auto before = consumer();
  EXPECT_EQ(before.numPending, 5u);
  EXPECT_EQ(before.deliveredStreamSequence, 0u);  // nothing pulled while the app is away

  auto app = startApp(appPort);
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto done = events(readRecords(app.record), "done", 200);
  ASSERT_EQ(done.size(), 5u);
  for (const auto& d : done)
    EXPECT_EQ(d["delivery"], 1);
  EXPECT_EQ(consumer().numRedelivered, 0);
  EXPECT_TRUE(waitReady(sidecar, 5s));
}

TEST_F(SidecarDispatchTest, AppGoingAwayNaksAndResumesWhenBack) {
  createQueue();
  const int appPort = freePort();
  auto app = startApp(appPort);
  auto sidecar = startSidecar(app.port, {"--backoff", "100ms"});
  ASSERT_TRUE(waitReady(sidecar));
  publish("id=first");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  app.process.kill();
  publish("id=second");
  ASSERT_TRUE(
      eventually([&] { return httpGet(sidecar.healthPort, "/readyz").status == 503; }, 10s));
  auto app2 = startApp(appPort, {}, "app2");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  EXPECT_EQ(events(readRecords(app2.record), "done", 200).size(), 1u);
}

TEST_F(SidecarDispatchTest, NatsDownAndConsumerMissingAtStartThenRecovers) {
  server_.crash();  // not running yet: make sure
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port);
  ASSERT_TRUE(eventually(
      [&] { return readFile(sidecar.log).find("cannot connect to NATS") != std::string::npos; },
      20s));
  EXPECT_EQ(httpGet(sidecar.healthPort, "/healthz").status, 200);
  EXPECT_EQ(httpGet(sidecar.healthPort, "/readyz").status, 503);

  ASSERT_TRUE(server_.start().ok());
  ASSERT_NO_FATAL_FAILURE(connectClient());
  // NATS is back but the consumer does not exist yet.
  nats::StreamConfig s;
  s.name = "ORDERS";
  s.subjects = {"shop.orders.>"};
  ASSERT_TRUE(js_->addStream(s).ok());
  ASSERT_TRUE(eventually(
      [&] { return readFile(sidecar.log).find("cannot read the consumer") != std::string::npos; },
      20s))
      << readFile(sidecar.log);
  EXPECT_EQ(httpGet(sidecar.healthPort, "/readyz").status, 503);
  EXPECT_TRUE(sidecar.process.running());

  createConsumer();
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  publish("id=after");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  EXPECT_EQ(events(readRecords(app.record), "done", 200).size(), 1u);
}

TEST_F(SidecarDispatchTest, ConcurrencyLimitsMessagesInFlight) {
  createQueue();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--concurrency", "3"});
  ASSERT_TRUE(waitReady(sidecar));
  for (int i = 0; i < 12; ++i)
    publish("id=c" + std::to_string(i) + " delay=200");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  // Replay the record: never more than 3 requests open at the app.
  int open = 0;
  int most = 0;
  for (const auto& r : readRecords(app.record)) {
    open += r["ev"] == "start" ? 1 : -1;
    most = std::max(most, open);
  }
  EXPECT_EQ(most, 3);
}

}  // namespace
}  // namespace osmosis::testing
