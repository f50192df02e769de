// Results events for gateway requests (--results, docs/sidecar.md "Results"): the real sidecar
// between a real nats-server and the real test app, the channel's stream and a results stream
// made here as the operator would. What the results stream holds is read with the nats CLI
// (a client we did not write); the local endpoint is called with curl.

#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/contract/gateway_contract.hpp"
#include "tests/fixtures/control_plane.hpp"
#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace gw = contract::gateway;

std::string decodeBase64(const std::string& in) {
  std::string out;
  int bits = 0;
  uint32_t acc = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      continue;  // padding
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// One message of the results stream as the nats CLI shows it.
struct Stored {
  std::string subject;
  std::string headers;  // the raw header block
  json body;
  std::string event() const {
    const std::string key = std::string(gw::kHeaderEvent) + ": ";
    auto at = headers.find(key);
    if (at == std::string::npos) return "";
    at += key.size();
    return headers.substr(at, headers.find('\r', at) - at);
  }
};

class SidecarResultsTest : public SidecarFixture {
 protected:
  void SetUp() override {
    SidecarFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  }
  void TearDown() override {
    if (tap_ != nullptr) natsSubscription_Destroy(tap_);
    tapConn_.reset();
    SidecarFixture::TearDown();
  }

  std::string id(char fill) const {
    return gw::formatRequestId("shop", "orders", std::string(gw::kRandomHexChars, fill));
  }

  // The results stream the operator makes for the channel when its gateway is enabled.
  void createResultsStream() {
    nats::StreamConfig s;
    s.name = "RESULTS";
    s.subjects = {gw::resultsStreamSubject("shop", "orders")};
    s.retention = nats::Retention::kLimits;
    auto si = js_->addStream(s);
    ASSERT_TRUE(si.ok()) << si.error().message;
  }

  Sidecar startResultsSidecar(int appPort, std::vector<std::string> extra = {}) {
    localPort_ = freePort();
    extra.insert(extra.end(),
                 {"--results", "--local-listen", "127.0.0.1:" + std::to_string(localPort_)});
    return startSidecar(appPort, extra);
  }

  uint64_t publishRequest(const std::string& body, const std::string& requestId) {
    return publish(body, {{gw::kHeaderRequestId, requestId}, {"Nats-Msg-Id", requestId}});
  }

  bool drained(std::chrono::milliseconds timeout = 20s) {
    return eventually(
        [&] {
          auto ci = consumer();
          return ci.numPending == 0 && ci.numAckPending == 0 && streamMessages() == 0;
        },
        timeout, 50ms);
  }

  CommandResult natsCli(std::vector<std::string> args) {
    args.insert(args.begin(), {toolsBin() + "/nats", "--server", server_.url()});
    return runCommand(args, {"NATS_CONTEXT=", "HOME=" + dir_}, "", 30s);
  }

  // Every message of the results stream, in order, read with the nats CLI.
  std::vector<Stored> stored() {
    std::vector<Stored> out;
    auto si = js_->streamInfo("RESULTS");
    EXPECT_TRUE(si.ok()) << si.error().message;
    if (!si.ok()) return out;
    for (uint64_t seq = si->state.firstSequence;
         si->state.messages > 0 && seq <= si->state.lastSequence; ++seq) {
      auto r = natsCli({"stream", "get", "RESULTS", std::to_string(seq), "--json"});
      EXPECT_EQ(r.code, 0) << r.err;
      auto j = json::parse(r.out, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << r.out;
      if (r.code != 0 || j.is_discarded()) continue;
      Stored s;
      s.subject = j.value("subject", "");
      s.headers = decodeBase64(j.value("hdrs", ""));
      s.body = json::parse(decodeBase64(j.value("data", "")), nullptr, false);
      out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<std::string> types(const std::vector<Stored>& events) {
    std::vector<std::string> out;
    for (const auto& e : events)
      out.push_back(e.body.value("type", "?"));
    return out;
  }

  // A core subscription to every subject, on a connection of its own: sees the sidecar's
  // publishes and acks in the order the server took them from the sidecar's connection.
  void openTap() {
    nats::ConnectionOptions o;
    o.urls = natsUrls();
    auto c = nats::Connection::connect(o);
    ASSERT_TRUE(c.ok()) << c.error().message;
    tapConn_ = c.value();
    ASSERT_EQ(natsConnection_SubscribeSync(&tap_, tapConn_->raw(), ">"), NATS_OK);
    ASSERT_EQ(natsConnection_Flush(tapConn_->raw()), NATS_OK);
  }
  // The subjects (and payload) the tap saw, in order, until `until` holds for one of them.
  std::vector<std::pair<std::string, std::string>> tapUntil(
      const std::function<bool(const std::string&, const std::string&)>& until,
      std::chrono::milliseconds timeout = 20s) {
    std::vector<std::pair<std::string, std::string>> seen;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, tap_, 200) != NATS_OK) continue;
      std::string subject = natsMsg_GetSubject(m);
      std::string data(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
      natsMsg_Destroy(m);
      seen.emplace_back(subject, data);
      if (until(seen.back().first, seen.back().second)) return seen;
    }
    std::string subjects;
    for (const auto& [subject, data] : seen)
      subjects += subject + " " + data.substr(0, 40) + "\n";
    ADD_FAILURE() << "the tap did not see what it waited for; it saw:\n" << subjects;
    return seen;
  }

  int curlPost(const std::string& path, const std::string& body,
               const std::string& contentType = "application/json") {
    auto r = runCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                         "Content-Type: " + contentType, "--data-binary", body,
                         "http://127.0.0.1:" + std::to_string(localPort_) + path});
    return r.code == 0 ? std::atoi(r.out.c_str()) : -1;
  }

  uint64_t metric(const Sidecar& s, const std::string& name) {
    auto body = httpGet(s.healthPort, "/metrics").body;
    auto at = body.find("\n" + name + " ");
    if (at == std::string::npos) return ~0ull;
    return std::stoull(body.substr(at + name.size() + 2));
  }

  int localPort_ = 0;
  std::shared_ptr<nats::Connection> tapConn_;
  natsSubscription* tap_ = nullptr;
};

TEST_F(SidecarResultsTest, ResultIsStoredInOrderBeforeTheAck) {
  createQueue();
  createResultsStream();
  openTap();
  auto app = startApp(freePort(), {"--record-headers"});
  auto sidecar = startResultsSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  const std::string rid = id('a');
  const uint64_t seq = publishRequest("status=201", rid);
  // A message without a request id: acked, no events.
  publish("id=plain");

  // The tap, up to the request's ack (stream sequence 1, first delivery): its result reached
  // the server before the ack did, and the PubAck of the result before the ack was sent.
  const std::string ackPrefix = "$JS.ACK.ORDERS.workers.1." + std::to_string(seq) + ".";
  auto seen = tapUntil([&](const std::string& subject, const std::string&) {
    return subject.rfind(ackPrefix, 0) == 0;
  });
  size_t resultAt = 0, pubAckAt = 0, ackAt = seen.size();
  for (size_t i = 0; i < seen.size(); ++i) {
    const auto& [subject, data] = seen[i];
    if (resultAt == 0 && subject == gw::resultsSubject(rid) &&
        data.find("\"result\"") != std::string::npos)
      resultAt = i + 1;
    if (resultAt > 0 && pubAckAt == 0 && data.find("\"stream\":\"RESULTS\"") != std::string::npos)
      pubAckAt = i + 1;
  }
  EXPECT_GT(resultAt, 0u);
  EXPECT_GT(pubAckAt, resultAt);
  EXPECT_GT(ackAt, pubAckAt);
  ASSERT_TRUE(drained()) << readFile(sidecar.log);

  auto events = stored();
  ASSERT_EQ(types(events), (std::vector<std::string>{"delivered", "result"}))
      << readFile(sidecar.log);
  for (const auto& e : events)
    EXPECT_EQ(e.subject, gw::resultsSubject(rid));
  EXPECT_EQ(events[0].event(), "delivered");
  EXPECT_EQ(events[0].body, (json{{"type", "delivered"}, {"attempt", 1}, {"pod", "sidecar"}}));
  EXPECT_EQ(events[1].event(), "result");
  const auto& result = events[1].body;
  EXPECT_EQ(result["status"], 201);
  EXPECT_EQ(result["body"], "ok\n");
  EXPECT_EQ(result["bodyEncoding"], "utf-8");
  EXPECT_EQ(result["headers"].value("content-type", ""), "text/plain; charset=utf-8") << result;
  EXPECT_FALSE(result["headers"].contains("content-length")) << result;
  // The final event's own id: a redelivery's copy is stored once.
  EXPECT_NE(events[1].headers.find("Nats-Msg-Id: " + gw::finalEventMsgId(rid)), std::string::npos)
      << events[1].headers;
  EXPECT_EQ(metric(sidecar, "osmosis_sidecar_results_published_total"), 2u);
  EXPECT_EQ(metric(sidecar, "osmosis_sidecar_messages_acked_total"), 2u);
  // The app got the checked id (the one it posts progress for); the plain message none.
  const auto starts = testing::events(readRecords(app.record), "start");
  ASSERT_EQ(starts.size(), 2u);
  for (const auto& start : starts) {
    const auto& h = start["headers"];
    if (start["body"] == "status=201") {
      EXPECT_EQ(h.value(gw::kHeaderRequestId, ""), rid) << h;
    } else {
      EXPECT_FALSE(h.contains(gw::kHeaderRequestId)) << h;
    }
  }

  // A clean stop (ASan would fail the exit code on a leak or worse).
  sidecar.process.signal(SIGTERM);
  auto exit = sidecar.process.waitFor(30s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0) << readFile(sidecar.log);
}

TEST_F(SidecarResultsTest, A4xxAnswerIsFailed) {
  createQueue();
  createResultsStream();
  auto app = startApp(freePort());
  auto sidecar = startResultsSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  const std::string rid = id('b');
  publishRequest("status=422", rid);
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto events = stored();
  ASSERT_EQ(types(events), (std::vector<std::string>{"delivered", "failed"}));
  EXPECT_EQ(events[1].event(), "failed");
  EXPECT_EQ(events[1].body["status"], 422);
  EXPECT_EQ(events[1].body["deadLettered"], false);
  EXPECT_NE(events[1].body.value("reason", "").find("422"), std::string::npos) << events[1].body;
  EXPECT_EQ(metric(sidecar, "osmosis_sidecar_messages_termed_total"), 1u);
}

TEST_F(SidecarResultsTest, ADeadLetteredFailureSaysSo) {
  createQueue();
  createResultsStream();
  createDeadLetterStream();
  auto app = startApp(freePort());
  auto sidecar = startResultsSidecar(app.port, {"--dead-letter-subject", "shop.dead"});
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  publishRequest("status=404", id('d'));
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto events = stored();
  ASSERT_EQ(types(events), (std::vector<std::string>{"delivered", "failed"}));
  EXPECT_EQ(events[1].body["status"], 404);
  EXPECT_EQ(events[1].body["deadLettered"], true);
  EXPECT_EQ(streamMessages("DEAD"), 1u);
}

TEST_F(SidecarResultsTest, ABodyOverTheLimitIsOmittedAndTheMessageStillAcked) {
  createQueue();
  createResultsStream();
  auto app = startApp(freePort());
  auto sidecar = startResultsSidecar(app.port, {"--max-result-bytes", "1024"});
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  publishRequest("body-bytes=5000", id('5'));
  publishRequest("body-bytes=1024", id('6'));  // exactly the limit: kept
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto events = stored();
  ASSERT_EQ(events.size(), 4u);
  std::map<std::string, json> results;
  for (const auto& e : events)
    if (e.event() == "result") results[e.subject] = e.body;
  const auto& over = results[gw::resultsSubject(id('5'))];
  EXPECT_EQ(over["status"], 200);
  EXPECT_EQ(over["body"], "");
  EXPECT_EQ(over["bodyOmitted"], "5000 bytes over the 1024 limit");
  const auto& within = results[gw::resultsSubject(id('6'))];
  EXPECT_EQ(within["body"], std::string(1024, 'x'));
  EXPECT_FALSE(within.contains("bodyOmitted"));
  EXPECT_EQ(metric(sidecar, "osmosis_sidecar_messages_acked_total"), 2u);
}

TEST_F(SidecarResultsTest, TheLocalEndpointAnswers503WhileNatsIsAway) {
  createQueue();
  auto app = startApp(freePort());
  auto sidecar = startResultsSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  EXPECT_EQ(curlPost("/v1/broadcast", "{}"), 202);
  ASSERT_TRUE(server_.stop().ok());
  EXPECT_TRUE(eventually([&] { return curlPost("/v1/broadcast", "{}") == 503; }, 10s, 100ms));
}

TEST_F(SidecarResultsTest, ARetryIsAnnouncedAndTheNextDeliveryCounted) {
  createQueue();
  createResultsStream();
  auto app = startApp(freePort());
  auto sidecar = startResultsSidecar(app.port, {"--backoff", "100ms"});
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  const std::string rid = id('c');
  publishRequest("fail-first=1 fail-status=503", rid);
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto events = stored();
  ASSERT_EQ(types(events), (std::vector<std::string>{"delivered", "retry", "delivered", "result"}));
  EXPECT_EQ(events[0].body["attempt"], 1);
  EXPECT_EQ(events[1].body["attempt"], 1);
  EXPECT_EQ(events[1].body["delayMs"], 100);
  EXPECT_NE(events[1].body.value("reason", "").find("503"), std::string::npos) << events[1].body;
  EXPECT_EQ(events[2].body["attempt"], 2);
  EXPECT_EQ(events[3].body["status"], 200);
}

TEST_F(SidecarResultsTest, SpoofedOrMalformedIdsGetNoEvents) {
  createQueue();
  createResultsStream();
  openTap();
  auto app = startApp(freePort(), {"--record-headers"});
  auto sidecar = startResultsSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  publishRequest("id=other", gw::formatRequestId("shop", "billing", std::string(32, 'd')));
  publishRequest("id=bad", "shop.orders.not-hex");
  publish("id=ours-after", {{gw::kHeaderRequestId, id('e')}});
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  // The last message's result is stored: nothing of the two before it can still come.
  ASSERT_TRUE(eventually([&] { return stored().size() == 2; }, 10s));
  auto events = stored();
  for (const auto& e : events)
    EXPECT_EQ(e.subject, gw::resultsSubject(id('e')));
  auto seen = tapUntil([&](const std::string& subject, const std::string& data) {
    return subject == gw::resultsSubject(id('e')) && data.find("\"result\"") != std::string::npos;
  });
  for (const auto& [subject, data] : seen) {
    if (subject.rfind("osmosis.results.", 0) == 0) {
      EXPECT_EQ(subject, gw::resultsSubject(id('e'))) << data;
    }
  }
  EXPECT_EQ(metric(sidecar, "osmosis_sidecar_results_refused_ids_total"), 2u);
  // A refused id is not handed to the app as a checked one.
  const auto starts = testing::events(readRecords(app.record), "start");
  ASSERT_EQ(starts.size(), 3u);
  for (const auto& start : starts) {
    if (start["id"] != "ours-after") {
      EXPECT_FALSE(start["headers"].contains(gw::kHeaderRequestId)) << start;
    }
  }
  EXPECT_EQ(metric(sidecar, "osmosis_sidecar_messages_acked_total"), 3u);
  const std::string log = readFile(sidecar.log);
  EXPECT_NE(log.find("another channel's"), std::string::npos) << log;
  EXPECT_NE(log.find("malformed"), std::string::npos) << log;
}

TEST_F(SidecarResultsTest, ProgressAndBroadcastThroughTheLocalEndpoint) {
  createQueue();
  createResultsStream();
  natsSubscription* broadcasts = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&broadcasts, conn_->raw(),
                                         gw::broadcastSubject("shop", "orders").c_str()),
            NATS_OK);
  std::unique_ptr<natsSubscription, void (*)(natsSubscription*)> guard(broadcasts,
                                                                       natsSubscription_Destroy);
  ASSERT_EQ(natsConnection_Flush(conn_->raw()), NATS_OK);
  auto app = startApp(freePort());
  auto sidecar =
      startResultsSidecar(app.port, {"--max-result-bytes", "1024", "--drain-grace", "1s"});
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  const std::string rid = id('f');
  // The app holds the request until the test has posted its progress: then it answers.
  publishRequest("delay=60000", rid);
  ASSERT_TRUE(eventually([&] { return stored().size() == 1; }, 10s)) << readFile(sidecar.log);

  const std::string progress = "/v1/requests/" + rid + "/progress";
  EXPECT_EQ(curlPost(progress, "{\"pct\":40}"), 202);
  EXPECT_EQ(curlPost(progress, "half way", "text/plain"), 202);
  EXPECT_EQ(curlPost(progress, "{broken"), 400);
  EXPECT_EQ(curlPost("/v1/requests/" + id('0') + "/progress", "{}"), 404);  // not in flight
  EXPECT_EQ(curlPost("/v1/requests/shop.billing." + std::string(32, 'f') + "/progress", "{}"), 404);
  EXPECT_EQ(curlPost(progress, std::string(2048, 'x'), "text/plain"), 413);
  auto getProgress = runCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 "http://127.0.0.1:" + std::to_string(localPort_) + progress});
  EXPECT_EQ(getProgress.out, "405");

  EXPECT_EQ(curlPost("/v1/broadcast", "{\"board\":[1,2]}"), 202);
  natsMsg* m = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&m, broadcasts, 10000), NATS_OK);
  EXPECT_EQ(std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))),
            "{\"board\":[1,2]}");
  const char* type = nullptr;
  EXPECT_EQ(natsMsgHeader_Get(m, "Content-Type", &type), NATS_OK);
  EXPECT_STREQ(type, "application/json");
  natsMsg_Destroy(m);

  ASSERT_TRUE(eventually([&] { return stored().size() == 3; }, 10s));
  auto events = stored();
  ASSERT_EQ(types(events), (std::vector<std::string>{"delivered", "progress", "progress"}));
  EXPECT_EQ(events[1].event(), "progress");
  EXPECT_EQ(events[1].body["data"], (json{{"pct", 40}}));
  EXPECT_EQ(events[2].body["data"], "half way");
  // Stop the sidecar; the held request goes back to the stream, its events stop there.
  sidecar.process.signal(SIGTERM);
  auto exit = sidecar.process.waitFor(60s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0);
}

TEST_F(SidecarResultsTest, AResultThatCannotBeStoredHoldsTheMessageUntilItCan) {
  // ackWait 1s: without in-progress the server would redeliver while the result is held.
  createQueue(1s);
  auto app = startApp(freePort());
  auto sidecar = startResultsSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  const std::string rid = id('9');
  publishRequest("status=200", rid);
  // No results stream: the final publish fails, again and again, for longer than ackWait.
  ASSERT_TRUE(eventually(
      [&] {
        return metric(sidecar, "osmosis_sidecar_results_failures_total") >= 4 &&
               metric(sidecar, "osmosis_sidecar_results_held") == 1;
      },
      30s, 100ms))
      << readFile(sidecar.log);
  auto held = consumer();
  EXPECT_EQ(held.numAckPending, 1);
  EXPECT_EQ(held.numRedelivered, 0);
  EXPECT_EQ(streamMessages(), 1u);
  EXPECT_EQ(metric(sidecar, "osmosis_sidecar_messages_acked_total"), 0u);
  EXPECT_NE(readFile(sidecar.log).find("cannot publish the final results event"),
            std::string::npos);

  createResultsStream();
  ASSERT_TRUE(drained(30s)) << readFile(sidecar.log);
  auto got = stored();
  // ("delivered" was published while no stream stored it: a step, not kept.)
  ASSERT_EQ(types(got), (std::vector<std::string>{"result"}));
  EXPECT_EQ(got[0].event(), "result");
  EXPECT_EQ(got[0].body["status"], 200);
  EXPECT_EQ(got[0].body["body"], "ok\n");
  // Delivered to the app once: held, never redelivered.
  EXPECT_EQ(events(readRecords(app.record), "start").size(), 1u);

  // A clean stop (ASan would fail the exit code on a leak or worse).
  sidecar.process.signal(SIGTERM);
  auto exit = sidecar.process.waitFor(30s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0) << readFile(sidecar.log);
}

TEST_F(SidecarResultsTest, AHeldResultIsNakkedAtShutdownAndStoredByTheNextPod) {
  createQueue();
  auto app = startApp(freePort());
  auto first = startResultsSidecar(app.port, {"--drain-grace", "500ms"});
  ASSERT_TRUE(waitReady(first)) << readFile(first.log);
  const std::string rid = id('7');
  publishRequest("status=200", rid);
  ASSERT_TRUE(
      eventually([&] { return metric(first, "osmosis_sidecar_results_held") == 1; }, 20s, 50ms))
      << readFile(first.log);
  // Stopping with the result still not stored: never acked, handed back.
  first.process.signal(SIGTERM);
  auto exit = first.process.waitFor(30s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0);
  EXPECT_NE(readFile(first.log).find("giving up on a held message's publish at shutdown"),
            std::string::npos)
      << readFile(first.log);
  EXPECT_EQ(streamMessages(), 1u);

  createResultsStream();
  auto second = startSidecar(app.port, {"--results", "--local-listen", ""}, "second");
  ASSERT_TRUE(drained(30s)) << readFile(second.log);
  auto events = stored();
  ASSERT_EQ(types(events), (std::vector<std::string>{"delivered", "result"}));
  EXPECT_EQ(events[0].body, (json{{"type", "delivered"}, {"attempt", 2}, {"pod", "second"}}));
}

}  // namespace
}  // namespace osmosis::testing
