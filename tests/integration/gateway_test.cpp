// osmosis-gateway end to end on real servers: the shared kube-apiserver (Channels, Secrets),
// a nats-server per test, the real operator (streams, the results stream), the real sidecar
// with --results in front of the real test app, and the gateway binary. Checked with curl,
// python3-websockets and the nats CLI.

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/child_process.hpp"
#include "tests/fixtures/operator_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  json j() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& lowercaseName) const {
    auto it = headers.find(lowercaseName);
    return it == headers.end() ? "" : it->second;
  }
};

// curl -i output -> status, headers, body (the last response when curl followed none).
Answer parseCurl(const std::string& out) {
  Answer a;
  std::string rest = out;
  // (a 100 Continue or similar interim answer comes first)
  for (;;) {
    const size_t end = rest.find("\r\n\r\n");
    if (end == std::string::npos) {
      a.body = rest;
      return a;
    }
    std::stringstream head(rest.substr(0, end));
    std::string line;
    std::getline(head, line);
    a.status = line.size() > 12 ? std::atoi(line.substr(9, 3).c_str()) : 0;
    a.headers.clear();
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t c = line.find(':');
      if (c == std::string::npos) continue;
      std::string k = line.substr(0, c);
      for (auto& ch : k)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      a.headers[k] = line.substr(line.find_first_not_of(' ', c + 1));
    }
    rest = rest.substr(end + 4);
    // (curl -L: the redirect's head comes first, then the next answer's)
    if (a.status >= 300 && a.status < 400 && rest.rfind("HTTP/", 0) == 0) continue;
    if (a.status >= 200) {
      a.body = rest;
      return a;
    }
  }
}

// The SSE events of a stream as the client saw them.
struct SseEvent {
  uint64_t id = 0;
  std::string event;
  json data;
};

std::vector<SseEvent> parseSse(const std::string& text) {
  std::vector<SseEvent> out;
  std::stringstream ss(text);
  SseEvent cur;
  bool any = false;
  for (std::string line; std::getline(ss, line);) {
    if (line.empty()) {
      if (any) out.push_back(cur);
      cur = SseEvent();
      any = false;
      continue;
    }
    if (line.rfind("id: ", 0) == 0) cur.id = std::stoull(line.substr(4));
    if (line.rfind("event: ", 0) == 0) {
      cur.event = line.substr(7);
      any = true;
    }
    if (line.rfind("data: ", 0) == 0) cur.data = json::parse(line.substr(6), nullptr, false);
  }
  return out;
}

std::vector<std::string> types(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(e.event);
  return out;
}

class GatewayTest : public OperatorTest {
 protected:
  void SetUp() override {
    OperatorTest::SetUp();
    if (HasFatalFailure()) return;
    keyFile_ = dir_ + "/signing-key";
    std::ofstream(keyFile_) << "0123456789abcdef0123456789abcdef-test-key";
  }

  void TearDown() override {
    for (auto* p : {&gateway_, &sidecar_, &app_}) {
      if (p->running()) {
        p->signal(SIGTERM);
        if (!p->waitFor(20s)) p->kill();
      }
    }
    if (HasFailure()) {
      std::printf("--- gateway log ---\n%s\n", readFile(dir_ + "/gw.out").c_str());
      std::printf("--- sidecar log ---\n%s\n", readFile(dir_ + "/sc.out").c_str());
    }
    OperatorTest::TearDown();
  }

  // A Channel with the gateway on (plus `gatewayYaml` lines under spec.gateway) and `specYaml`.
  void applyChannel(const std::string& name, const std::string& gatewayYaml = "",
                    const std::string& specYaml = "") {
    const std::string spec =
        "  gateway:\n    enabled: true\n" + indent(indent(gatewayYaml)) + indent(specYaml);
    auto r = apply(manifest(name, spec));
    ASSERT_EQ(r.code, 0) << r.err;
    waitCondition(name, "Ready", "True");
    ASSERT_TRUE(
        eventually([&] { return !streamInfo(stream(name) + "_RESULTS").is_null(); }, kConverge))
        << "no results stream";
  }

  static std::string indent(const std::string& yaml) {
    std::string out;
    std::stringstream ss(yaml);
    for (std::string line; std::getline(ss, line);)
      out += "  " + line + "\n";
    return out;
  }

  void startWorker(const std::string& channel) {
    appPort_ = freePort();
    auto app = ChildProcess::spawn({{OSMOSIS_TEST_APP_BIN, "--port", std::to_string(appPort_)},
                                    {},
                                    dir_ + "/app.out",
                                    dir_ + "/app.err"});
    ASSERT_TRUE(app.ok());
    app_ = std::move(app.value());
    // (each port in use before the next is picked: freePort() may hand out one twice)
    ASSERT_TRUE(eventually(
        [&] { return readFile(dir_ + "/app.out").find("listening") != std::string::npos; }, 10s));
    localPort_ = freePort();
    const int sidecarHealth = freePort();
    auto sc = ChildProcess::spawn({{OSMOSIS_SIDECAR_BIN,
                                    "--nats-url",
                                    natsUrl(),
                                    "--channel",
                                    channel,
                                    "--namespace",
                                    ns_,
                                    "--pod",
                                    "worker-0",
                                    "--stream",
                                    stream(channel),
                                    "--consumer",
                                    "workers",
                                    "--app-port",
                                    std::to_string(appPort_),
                                    "--listen",
                                    "127.0.0.1:" + std::to_string(sidecarHealth),
                                    "--results",
                                    "--local-listen",
                                    "127.0.0.1:" + std::to_string(localPort_),
                                    "--log-level",
                                    "debug"},
                                   {},
                                   dir_ + "/sc.out",
                                   dir_ + "/sc.err"});
    ASSERT_TRUE(sc.ok());
    sidecar_ = std::move(sc.value());
    // (its /readyz also wants the app seen answering, which only a delivery shows)
    ASSERT_TRUE(eventually(
        [&] { return readFile(dir_ + "/sc.out").find("bound to consumer") != std::string::npos; },
        kConverge))
        << readFile(dir_ + "/sc.out");
  }

  void startGateway(std::vector<std::string> extra = {}) {
    port_ = freePort();
    healthPort_ = freePort();
    while (healthPort_ == port_)
      healthPort_ = freePort();
    std::vector<std::string> args = {OSMOSIS_GATEWAY_BIN,
                                     "--kubeconfig",
                                     cp_->kubeconfig(),
                                     "--watch-namespace",
                                     ns_,
                                     "--nats-url",
                                     natsUrl(),
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--health-listen",
                                     "127.0.0.1:" + std::to_string(healthPort_),
                                     "--signing-key-file",
                                     keyFile_,
                                     "--keepalive",
                                     "1s",
                                     "--log-level",
                                     "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto gw = ChildProcess::spawn({args, {}, dir_ + "/gw.out", dir_ + "/gw.err"});
    ASSERT_TRUE(gw.ok());
    gateway_ = std::move(gw.value());
    // Ready: Channels listed and NATS connected (what the chart's readiness probe asks).
    ASSERT_TRUE(eventually(
        [&] {
          return runCommand({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                             "http://127.0.0.1:" + std::to_string(healthPort_) + "/readyz"})
                     .out == "200";
        },
        kConverge, 100ms))
        << readFile(dir_ + "/gw.out") << readFile(dir_ + "/gw.err");
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string messages(const std::string& channel) const {
    return url("/v1/namespaces/" + ns_ + "/channels/" + channel + "/messages");
  }

  Answer curl(std::vector<std::string> args, std::chrono::seconds timeout = 20s) {
    std::vector<std::string> argv = {"curl", "-sS", "-i", "--max-time",
                                     std::to_string(timeout.count())};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = runCommand(argv);
    return parseCurl(r.out);
  }

  Answer post(const std::string& channel, const std::string& body,
              std::vector<std::string> headers = {}) {
    std::vector<std::string> args = {"-X", "POST", "--data-binary",
                                     body, "-H",   "Content-Type: text/plain"};
    for (const auto& h : headers) {
      args.push_back("-H");
      args.push_back(h);
    }
    args.push_back(messages(channel));
    return curl(args);
  }

  // The whole SSE stream of a request (it ends after the final event).
  std::vector<SseEvent> events(const std::string& id, const std::string& token,
                               const std::string& lastEventId = "") {
    std::vector<std::string> argv = {"curl", "-sS", "-N", "--max-time", "30"};
    if (!lastEventId.empty()) {
      argv.push_back("-H");
      argv.push_back("Last-Event-ID: " + lastEventId);
    }
    argv.push_back(url("/v1/requests/" + id + "/events?token=" + token));
    auto r = runCommand(argv);
    EXPECT_EQ(r.code, 0) << "the event stream did not end by itself: " << r.err << r.out;
    return parseSse(r.out);
  }

  std::string keyFile_;
  int port_ = 0;
  int healthPort_ = 0;
  int appPort_ = 0;
  int localPort_ = 0;
  ChildProcess app_, sidecar_, gateway_;
};

TEST_F(GatewayTest, PostIsStoredThenEveryEventAndTheResultArePushedBack) {
  applyChannel("orders");
  startWorker("orders");
  startGateway();
  const Answer a = post("orders", "answer=forty-two");
  ASSERT_EQ(a.status, 202) << a.body;
  const json j = a.j();
  const std::string id = j.value("id", "");
  EXPECT_EQ(a.header("location"), "/v1/requests/" + id);
  EXPECT_EQ(j.value("stream", ""), stream("orders"));
  EXPECT_GE(j.value("sequence", 0), 1);
  const std::string token = j.value("token", "");
  ASSERT_FALSE(token.empty());

  const auto ev = events(id, token);
  ASSERT_EQ(types(ev), (std::vector<std::string>{"delivered", "result"}));
  EXPECT_LT(ev[0].id, ev[1].id);
  EXPECT_EQ(ev[0].data.value("attempt", 0), 1);
  EXPECT_EQ(ev[1].data.value("status", 0), 200);

  // Done: the request's URL sends the client to its result, which is the worker's answer.
  Answer state = curl({url("/v1/requests/" + id + "?token=" + token)});
  EXPECT_EQ(state.status, 303);
  EXPECT_EQ(state.header("location"), "/v1/requests/" + id + "/result?token=" + token);
  Answer result = curl({"-L", url("/v1/requests/" + id + "?token=" + token)});
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.header("content-type"), "application/json");
  EXPECT_EQ(result.j().value("answer", ""), "forty-two");

  // Counted by status, publish latency observed, the stream closed again.
  auto metrics =
      runCommand({"curl", "-sS", "http://127.0.0.1:" + std::to_string(healthPort_) + "/metrics"});
  EXPECT_NE(metrics.out.find("osmosis_gateway_requests_total{code=\"202\"} 1"), std::string::npos)
      << metrics.out;
  EXPECT_NE(metrics.out.find("osmosis_gateway_publish_seconds_count 1"), std::string::npos);
  EXPECT_NE(metrics.out.find("osmosis_gateway_open_streams 0"), std::string::npos);

  // The nats CLI finds the result event in the results stream under the request's subject.
  auto got = nats({"stream", "get", stream("orders") + "_RESULTS", "--last-for",
                   "osmosis.results." + id, "--json"});
  ASSERT_EQ(got.code, 0) << got.err;
  EXPECT_NE(got.out.find("\"subject\": \"osmosis.results." + id + "\""), std::string::npos)
      << got.out;
}

TEST_F(GatewayTest, ARetriedPostWithTheSameIdempotencyKeyIsStoredOnce) {
  applyChannel("orders");
  startGateway();  // (no worker: the messages stay in the stream)
  const Answer first = post("orders", "one", {"Idempotency-Key: order-1001"});
  const Answer again = post("orders", "one", {"Idempotency-Key: order-1001"});
  const Answer other = post("orders", "two", {"Idempotency-Key: order-1002"});
  ASSERT_EQ(first.status, 202) << first.body;
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(first.j()["id"], again.j()["id"]);
  EXPECT_EQ(first.j()["sequence"], again.j()["sequence"]);
  EXPECT_EQ(first.j()["token"], again.j()["token"]);
  EXPECT_FALSE(first.j().value("duplicate", true));
  EXPECT_TRUE(again.j().value("duplicate", false));
  EXPECT_NE(first.j()["id"], other.j()["id"]);
  EXPECT_EQ(streamInfo(stream("orders"))["state"].value("messages", 0), 2);
  // Malformed keys are refused, not ignored.
  EXPECT_EQ(post("orders", "x", {"Idempotency-Key: two words"}).status, 400);
  EXPECT_EQ(post("orders", "x", {"Idempotency-Key;"}).status, 400);  // (curl: present, empty)
  EXPECT_EQ(post("orders", "x", {"Idempotency-Key: " + std::string(300, 'k')}).status, 400);
  EXPECT_EQ(streamInfo(stream("orders"))["state"].value("messages", 0), 2);
}

TEST_F(GatewayTest, PreferWaitAnswersWithTheResultOrWith202AtTheDeadline) {
  applyChannel("orders");
  startWorker("orders");
  startGateway();
  const Answer fast = post("orders", "answer=quick", {"Prefer: wait=20"});
  ASSERT_EQ(fast.status, 200) << fast.body;
  EXPECT_EQ(fast.j().value("answer", ""), "quick");
  EXPECT_EQ(fast.header("preference-applied"), "wait");
  EXPECT_FALSE(fast.header("osmosis-request-id").empty());

  const auto started = std::chrono::steady_clock::now();
  const Answer slow = post("orders", "answer=slow delay=6000", {"Prefer: wait=1"});
  EXPECT_EQ(slow.status, 202) << slow.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  // ... and the result still arrives for whoever follows the request.
  const auto ev = events(slow.j()["id"], slow.j()["token"]);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().event, "result");
}

TEST_F(GatewayTest, LastEventIdResumesWithExactlyTheMissedEvents) {
  applyChannel("orders", "", "consumer:\n  backoff: [\"200ms\"]\n");
  startWorker("orders");
  startGateway();
  const Answer a = post("orders", "answer=retried fail-first=1");
  ASSERT_EQ(a.status, 202);
  const std::string id = a.j()["id"], token = a.j()["token"];
  const auto all = events(id, token);
  ASSERT_EQ(types(all), (std::vector<std::string>{"delivered", "retry", "delivered", "result"}));
  // Dropped after the first two: a reconnect gets the last two, nothing else, nothing twice.
  const auto rest = events(id, token, std::to_string(all[1].id));
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, all[2].id);
  EXPECT_EQ(rest[1].id, all[3].id);
  EXPECT_EQ(rest[1].data.value("status", 0), 200);

  // When the stored history is gone, the client is told so before anything else.
  ASSERT_EQ(nats({"stream", "purge", stream("orders") + "_RESULTS", "-f"}).code, 0);
  const Answer b = post("orders", "answer=after-purge");
  const auto resumed = events(b.j()["id"], b.j()["token"], std::to_string(all[0].id));
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed.front().event, "history-lost");
  EXPECT_EQ(resumed.back().event, "result");
}

TEST_F(GatewayTest, EventsOverWebSocketWithAClientWeDidNotWrite) {
  applyChannel("orders");
  startWorker("orders");
  startGateway();
  const Answer a = post("orders", "answer=ws");
  ASSERT_EQ(a.status, 202);
  const std::string id = a.j()["id"], token = a.j()["token"];
  auto r = runCommand(
      {"/usr/bin/python3", sourceDir() + "/tests/tools/ws_client.py",
       "ws://127.0.0.1:" + std::to_string(port_) + "/v1/requests/" + id + "/events?token=" + token,
       "--timeout", "20"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<json> frames;
  std::stringstream ss(r.out);
  for (std::string line; std::getline(ss, line);)
    frames.push_back(json::parse(line));
  ASSERT_EQ(frames.size(), 2u) << r.out;
  EXPECT_EQ(frames[0]["event"], "delivered");
  EXPECT_EQ(frames[1]["event"], "result");
  EXPECT_EQ(frames[1]["data"]["status"], 200);
  EXPECT_LT(frames[0]["id"].get<uint64_t>(), frames[1]["id"].get<uint64_t>());
}

TEST_F(GatewayTest, ProgressAndBroadcastsFromTheWorkerReachClients) {
  applyChannel("orders");
  startWorker("orders");
  startGateway();
  // A client listening to the channel's broadcasts.
  std::string shared;
  std::thread listener([&] {
    shared = runCommand({"curl", "-sS", "-N", "--max-time", "8",
                         url("/v1/namespaces/" + ns_ + "/channels/orders/events")})
                 .out;
  });
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{listener};
  const Answer a = post("orders", "answer=slow delay=4000");
  ASSERT_EQ(a.status, 202);
  const std::string id = a.j()["id"], token = a.j()["token"];
  // While the worker handles it, it reports progress and broadcasts (through its sidecar).
  const std::string local = "http://127.0.0.1:" + std::to_string(localPort_);
  std::string said;
  ASSERT_TRUE(eventually(
      [&] {
        said = runCommand({"curl", "-sS", "-w", "%{http_code}", "-X", "POST", "-H",
                           "Content-Type: application/json", "--data", "{\"percent\":50}",
                           local + "/v1/requests/" + id + "/progress"})
                   .out;
        return said.size() >= 3 && said.substr(said.size() - 3) == "202";
      },
      10s, 100ms))
      << said;
  auto b = runCommand({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                       "--data", "{\"stock\":7}", local + "/v1/broadcast"});
  EXPECT_EQ(b.out, "202");
  const auto ev = events(id, token);
  EXPECT_EQ(types(ev), (std::vector<std::string>{"delivered", "progress", "result"}));
  if (ev.size() == 3) {
    EXPECT_EQ(ev[1].data.value("data", json()).value("percent", 0), 50) << ev[1].data.dump();
  }
  listener.join();
  EXPECT_NE(shared.find("event: broadcast\ndata: {\"stock\":7}"), std::string::npos) << shared;
}

TEST_F(GatewayTest, PublishersNeedTheChannelsBearerTokenAndReadersTheRequestsToken) {
  auto s = kubectl({"create", "secret", "generic", "orders-publishers",
                    "--from-literal=alice=token-alice", "--from-literal=bob=token-bob"});
  ASSERT_EQ(s.code, 0) << s.err;
  applyChannel("orders", "publishers:\n  secretRef:\n    name: orders-publishers\n");
  startGateway();
  const Answer none = post("orders", "x");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("www-authenticate"), "Bearer realm=\"osmosis\"");
  EXPECT_EQ(post("orders", "x", {"Authorization: Bearer token-mallory"}).status, 403);
  const Answer ok = post("orders", "x", {"Authorization: Bearer token-bob"});
  ASSERT_EQ(ok.status, 202) << ok.body;
  const std::string id = ok.j()["id"];
  const std::string events = url("/v1/requests/" + id + "/events");
  EXPECT_EQ(curl({events}).status, 401);
  EXPECT_EQ(curl({events + "?token=AAAA"}).status, 403);
  EXPECT_EQ(curl({url("/v1/requests/" + id + "?token=AAAA")}).status, 403);
  // A token made for another request does not open this one.
  const Answer other = post("orders", "y", {"Authorization: Bearer token-alice"});
  EXPECT_EQ(
      curl({url("/v1/requests/" + id + "?token=" + other.j()["token"].get<std::string>())}).status,
      403);
  // Same idempotency key, different publishers: different requests.
  const Answer ka =
      post("orders", "k", {"Authorization: Bearer token-alice", "Idempotency-Key: k1"});
  const Answer kb = post("orders", "k", {"Authorization: Bearer token-bob", "Idempotency-Key: k1"});
  EXPECT_NE(ka.j()["id"], kb.j()["id"]);
  // No token, bearer or per-request, and not the signing key, in the gateway's output.
  const std::string out = readFile(dir_ + "/gw.out") + readFile(dir_ + "/gw.err");
  for (const std::string& secret :
       {std::string("token-alice"), std::string("token-bob"), ok.j()["token"].get<std::string>(),
        std::string("0123456789abcdef0123456789abcdef")})
    EXPECT_EQ(out.find(secret), std::string::npos) << "a secret in the gateway's log: " << secret;
  // A rotated Secret: the removed token stops working within the cache time.
  ASSERT_EQ(kubectl({"patch", "secret", "orders-publishers", "--type=json", "-p",
                     R"([{"op":"remove","path":"/data/bob"}])"})
                .code,
            0);
  EXPECT_TRUE(eventually(
      [&] { return post("orders", "z", {"Authorization: Bearer token-bob"}).status == 403; }, 15s,
      500ms));
}

TEST_F(GatewayTest, EveryRefusalHasItsStatusAndReason) {
  applyChannel("orders", "maxBacklog: 3\n");
  applyChannel("full", "maxBacklog: 0\n", "stream:\n  maxMsgs: 2\n  discard: New\n");
  ASSERT_EQ(apply(manifest("closed", "  stream: {maxAge: 1h}\n")).code, 0);  // gateway off
  startGateway({"--max-body-bytes", "1024"});
  // Unknown or not enabled Channel, bad names, wrong methods and paths.
  EXPECT_EQ(post("nope", "x").status, 404);
  EXPECT_EQ(post("closed", "x").status, 404);
  EXPECT_NE(post("closed", "x").j().value("error", "").find("spec.gateway.enabled"),
            std::string::npos);
  EXPECT_EQ(curl({url("/v1/namespaces/BAD/channels/orders/messages"), "-X", "POST"}).status, 404);
  const Answer get = curl({messages("orders")});
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.header("allow"), "POST");
  EXPECT_EQ(curl({url("/v2/anything")}).status, 404);
  EXPECT_EQ(curl({url("/v1/requests/not-an-id")}).status, 404);
  // Too large for the gateway: 413 before the body is read.
  EXPECT_EQ(post("orders", std::string(2048, 'x')).status, 413);
  // Backlog over the channel's limit: 429 with a Retry-After in seconds.
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(post("orders", "m").status, 202);
  Answer over;
  ASSERT_TRUE(eventually(
      [&] {
        over = post("orders", "m");
        return over.status == 429;
      },
      10s, 300ms));
  EXPECT_GE(std::stoi(over.header("retry-after")), 1);
  EXPECT_NE(over.j().value("error", "").find("limit 3"), std::string::npos);
  // The stream itself refuses (max messages, discard new): 429 as well.
  EXPECT_EQ(post("full", "1").status, 202);
  EXPECT_EQ(post("full", "2").status, 202);
  const Answer full = post("full", "3");
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_FALSE(full.header("retry-after").empty());
  EXPECT_EQ(streamInfo(stream("full"))["state"].value("messages", 0), 2);
  // NATS away: 503 with Retry-After; back: 202 again, by itself.
  ASSERT_TRUE(nats_.stop().ok());
  const Answer down = post("closed", "x").status == 404 ? post("full", "x") : Answer{};
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_FALSE(down.header("retry-after").empty());
  ASSERT_TRUE(nats_.start().ok());
  EXPECT_TRUE(eventually([&] { return post("orders", "back").status != 503; }, 30s, 500ms));
}

TEST_F(GatewayTest, EventStreamsPerClientAreCapped) {
  applyChannel("orders");
  startGateway({"--max-streams-per-client", "2"});
  const Answer a = post("orders", "x");  // (no worker: its stream stays open)
  ASSERT_EQ(a.status, 202);
  const std::string stream = url("/v1/requests/" + a.j()["id"].get<std::string>() +
                                 "/events?token=" + a.j()["token"].get<std::string>());
  // Two streams held open by curl processes, each seen open (its first line arrived).
  std::vector<ChildProcess> open;
  for (int i = 0; i < 2; ++i) {
    const std::string out = dir_ + "/stream-" + std::to_string(i) + ".out";
    auto p = ChildProcess::spawn({{"curl", "-sS", "-N", "--max-time", "60", stream}, {}, out, ""});
    ASSERT_TRUE(p.ok());
    open.push_back(std::move(p.value()));
    ASSERT_TRUE(eventually([&] { return readFile(out).find("retry:") != std::string::npos; }, 10s));
  }
  const Answer third = curl({stream}, 5s);
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_FALSE(third.header("retry-after").empty());
  EXPECT_NE(third.j().value("error", "").find("2 event streams"), std::string::npos);
  // A closed one frees its place.
  open[0].kill();
  Answer again;
  EXPECT_TRUE(eventually(
      [&] {
        again = curl({stream}, 2s);
        return again.status == 200;
      },
      10s, 200ms))
      << again.status;
}

}  // namespace
}  // namespace osmosis::testing
