// The gateway's refusals that need NATS or the API server to misbehave, or a state hard to reach
// on real servers (Channels not listed yet, a full work queue, a stream that refuses a message),
// on the real Gateway and HTTP server against fakes of its seams, checked with curl. The same
// refusals on real servers: tests/integration/gateway_test.cpp. docs/bad-input.md lists both.

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/metrics/registry.hpp"
#include "gateway/server/gateway.hpp"
#include "tests/fixtures/child_process.hpp"

namespace osmosis::gateway {
namespace {

using nlohmann::json;

class FakeDirectory : public ChannelDirectory {
 public:
  bool listed = true;
  std::vector<ChannelEntry> entries;
  std::optional<ChannelEntry> find(const std::string& ns, const std::string& name) const override {
    for (const auto& e : entries)
      if (e.ns == ns && e.name == name) return e;
    return std::nullopt;
  }
  bool ready() const override { return listed; }
};

class FakeTokens : public TokenSource {
 public:
  std::atomic<bool> readable{true};
  Result<std::vector<std::string>> tokens(const std::string&, const std::string&) override {
    if (!readable) return makeError(Error::Code::kPermissionDenied, "secrets is forbidden");
    return std::vector<std::string>{"token-alice"};
  }
};

class FakeBus : public Bus {
 public:
  std::mutex mu;
  std::optional<Error> publishError;  // else a stored message
  std::optional<Error> backlogError;
  int64_t backlogNow = 0;
  Result<nats::PublishAck> publish(const std::string&, std::string_view, const nats::Headers&,
                                   const std::string&) override {
    std::lock_guard l(mu);
    if (publishError) return *publishError;
    return nats::PublishAck{"ST", 1, false};
  }
  Result<int64_t> backlog(const std::string&, const std::string&) override {
    std::lock_guard l(mu);
    if (backlogError) return *backlogError;
    return backlogNow;
  }
  Result<std::optional<nats::StoredMessage>> next(const std::string&, const std::string&,
                                                  uint64_t) override {
    return std::optional<nats::StoredMessage>();
  }
  Result<std::optional<nats::StoredMessage>> last(const std::string&, const std::string&) override {
    return std::optional<nats::StoredMessage>();
  }
  Result<uint64_t> firstSequence(const std::string&) override { return uint64_t{1}; }
  Result<std::shared_ptr<void>> follow(const std::string&, const std::string&,
                                       std::function<void(nats::StoredMessage)>) override {
    return std::shared_ptr<void>(std::make_shared<int>(0));
  }
  Result<std::shared_ptr<void>> subscribe(const std::string&,
                                          std::function<void(std::string)>) override {
    return std::shared_ptr<void>(std::make_shared<int>(0));
  }
  bool connected() const override { return true; }

  void set(Error e) {
    std::lock_guard l(mu);
    publishError = std::move(e);
  }
  void failBacklog(Error e) {
    std::lock_guard l(mu);
    backlogError = std::move(e);
  }
  void setBacklog(int64_t n) {
    std::lock_guard l(mu);
    backlogNow = n;
  }
};

struct Answer {
  int status = 0;
  std::string headers;  // as sent, lowercased
  json body;
  std::string header(const std::string& name) const {
    const size_t at = headers.find("\n" + name + ": ");
    if (at == std::string::npos) return "";
    const size_t from = at + name.size() + 3;
    return headers.substr(from, headers.find('\r', from) - from);
  }
  std::string error() const { return body.is_object() ? body.value("error", "") : ""; }
};

class GatewayRefusals : public ::testing::Test {
 protected:
  void SetUp() override {
    ChannelEntry e;
    e.ns = "shop";
    e.name = "orders";
    e.enabled = true;
    e.publishSubject = "orders.gateway";
    e.stream = "SHOP_ORDERS";
    e.consumer = "workers";
    e.resultsStream = "SHOP_ORDERS_RESULTS";
    e.maxMessageBytes = 64;
    directory_.entries.push_back(e);
    e.name = "private";
    e.publishersSecret = "private-publishers";
    directory_.entries.push_back(e);
    e.name = "limited";
    e.publishersSecret = "";
    e.maxBacklog = 5;
    directory_.entries.push_back(e);
  }
  void TearDown() override {
    server_.reset();
    gateway_.reset();
  }

  void start(GatewayOptions options = {}) {
    auto signer = RequestSigner::create("0123456789abcdef0123456789abcdef");
    ASSERT_TRUE(signer.ok());
    signer_ = signer.value();
    gateway_ = std::make_unique<Gateway>(options, directory_, tokens_, bus_, hub_, signer.value(),
                                         registry_);
    http::ServerOptions o;
    o.threads = 2;
    o.maxBodyBytes = 1024;
    auto s = http::Server::startAsync(
        "127.0.0.1", 0,
        [this](http::Request&& req, http::Responder r) { gateway_->handle(std::move(req), r); }, o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(s.value());
  }

  Answer curl(const std::string& method, const std::string& path, const std::string& body = "",
              std::vector<std::string> headers = {}) {
    std::vector<std::string> argv = {"curl", "-sS", "-i", "--max-time", "10", "-X", method};
    if (method == "POST") {
      argv.push_back("--data-binary");
      argv.push_back(body);
    }
    for (const auto& h : headers) {
      argv.push_back("-H");
      argv.push_back(h);
    }
    argv.push_back("http://127.0.0.1:" + std::to_string(server_->port()) + path);
    const auto r = testing::runCommand(argv);
    Answer a;
    const size_t end = r.out.find("\r\n\r\n");
    if (r.out.size() < 12 || end == std::string::npos) return a;
    a.status = std::atoi(r.out.substr(9, 3).c_str());
    a.headers = r.out.substr(0, end + 2);
    for (auto& c : a.headers)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    a.body = json::parse(r.out.substr(end + 4), nullptr, false);
    return a;
  }
  Answer post(const std::string& channel, const std::string& body,
              std::vector<std::string> headers = {}) {
    return curl("POST", "/v1/namespaces/shop/channels/" + channel + "/messages", body,
                std::move(headers));
  }
  std::string id() const { return "shop.orders.0123456789abcdef0123456789abcdef"; }
  std::string token() const { return signer_->token(id()); }

  FakeDirectory directory_;
  FakeTokens tokens_;
  FakeBus bus_;
  ResultsHub hub_{bus_};
  metrics::Registry registry_;
  std::optional<RequestSigner> signer_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(GatewayRefusals, RoutesAndNames) {
  start();
  EXPECT_EQ(post("nope", "x").status, 404);
  EXPECT_EQ(curl("POST", "/v1/namespaces/Shop/channels/orders/messages", "x").status, 404);
  const Answer get = curl("GET", "/v1/namespaces/shop/channels/orders/messages");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.header("allow"), "post");
  const Answer del = curl("DELETE", "/v1/requests/" + id());
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.header("allow"), "get, head");
  EXPECT_EQ(curl("GET", "/v1/requests/shop.orders.XYZ").status, 404);
}

TEST_F(GatewayRefusals, BeforeTheChannelsAreListedEveryRequestIs503) {
  directory_.listed = false;
  start();
  const Answer a = post("orders", "x");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.header("retry-after"), "1");
  EXPECT_NE(a.error().find("has not read the Channels yet"), std::string::npos) << a.error();
  EXPECT_EQ(curl("GET", "/v1/requests/" + id() + "?token=" + token()).status, 503);
  EXPECT_EQ(curl("GET", "/v1/namespaces/shop/channels/orders/events").status, 503);
}

TEST_F(GatewayRefusals, BodiesOverTheLimitsAre413) {
  start();
  const Answer server = post("orders", std::string(2000, 'x'));  // --max-body-bytes 1024
  EXPECT_EQ(server.status, 413);
  const Answer stream = post("orders", std::string(65, 'x'));  // the stream's max_msg_size 64
  EXPECT_EQ(stream.status, 413);
  EXPECT_NE(stream.error().find("the channel takes at most 64"), std::string::npos)
      << stream.error();
  EXPECT_EQ(post("orders", std::string(64, 'x')).status, 202);
  // NATS refuses it (its max_payload): 413 as well.
  bus_.set(makeError(Error::Code::kInvalidArgument, "nats: Maximum Payload Exceeded"));
  const Answer nats = post("orders", "x");
  EXPECT_EQ(nats.status, 413);
  EXPECT_NE(nats.error().find("larger than the channel accepts"), std::string::npos);
}

TEST_F(GatewayRefusals, MalformedIdempotencyKeyAndLastEventIdAre400) {
  start();
  const Answer space = post("orders", "x", {"Idempotency-Key: two words"});
  EXPECT_EQ(space.status, 400);
  EXPECT_NE(space.error().find("visible ASCII"), std::string::npos) << space.error();
  const Answer longer = post("orders", "x", {"Idempotency-Key: " + std::string(256, 'k')});
  EXPECT_EQ(longer.status, 400);
  const Answer empty = post("orders", "x", {"Idempotency-Key;"});  // (curl: an empty value)
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(empty.error().find("empty"), std::string::npos) << empty.error();
  const std::string events = "/v1/requests/" + id() + "/events?token=" + token();
  const Answer last = curl("GET", events, "", {"Last-Event-ID: seven"});
  EXPECT_EQ(last.status, 400);
  EXPECT_NE(last.error().find("Last-Event-ID"), std::string::npos) << last.error();
  EXPECT_EQ(curl("GET", events + "&lastEventId=-1").status, 400);
}

TEST_F(GatewayRefusals, TokensAre401And403AndAnUnreadableSecretIs503) {
  start();
  const Answer none = post("private", "x");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("www-authenticate"), "bearer realm=\"osmosis\"");
  EXPECT_EQ(post("private", "x", {"Authorization: Bearer token-mallory"}).status, 403);
  EXPECT_EQ(post("private", "x", {"Authorization: Bearer token-alice"}).status, 202);
  EXPECT_EQ(curl("GET", "/v1/requests/" + id()).status, 401);
  EXPECT_EQ(curl("GET", "/v1/requests/" + id() + "?token=AAAA").status, 403);
  EXPECT_EQ(curl("GET", "/v1/requests/" + id() + "?token=" + token()).status, 200);
  tokens_.readable = false;
  const Answer secret = post("private", "x", {"Authorization: Bearer token-alice"});
  EXPECT_EQ(secret.status, 503);
  EXPECT_EQ(secret.header("retry-after"), "5");
}

TEST_F(GatewayRefusals, BacklogAndAFullStreamAre429WithRetryAfter) {
  start();
  bus_.setBacklog(5);
  const Answer backlog = post("limited", "x");
  EXPECT_EQ(backlog.status, 429);
  EXPECT_GE(std::atoi(backlog.header("retry-after").c_str()), 1);
  EXPECT_NE(backlog.error().find("(limit 5)"), std::string::npos) << backlog.error();
  Error full = makeError(Error::Code::kUnavailable, "maximum messages exceeded");
  full.reason = "10077";
  bus_.set(full);
  const Answer stream = post("orders", "x");
  EXPECT_EQ(stream.status, 429);
  EXPECT_FALSE(stream.header("retry-after").empty());
  EXPECT_NE(stream.error().find("the channel's stream is full"), std::string::npos);
}

TEST_F(GatewayRefusals, NatsAwayIs503WithRetryAfter) {
  start();
  bus_.set(makeError(Error::Code::kUnavailable, "nats: connection closed"));
  const Answer away = post("orders", "x");
  EXPECT_EQ(away.status, 503);
  EXPECT_EQ(away.header("retry-after"), "2");
  EXPECT_NE(away.error().find("NATS did not store the message"), std::string::npos);
  // A Channel with a maxBacklog: its backlog cannot be read either.
  bus_.failBacklog(makeError(Error::Code::kUnavailable, "nats: connection closed"));
  const Answer backlog = post("limited", "x");
  EXPECT_EQ(backlog.status, 503);
  EXPECT_EQ(backlog.header("retry-after"), "2");
  EXPECT_NE(backlog.error().find("cannot read the channel's backlog"), std::string::npos);
}

TEST_F(GatewayRefusals, AFullWorkQueueIs503Overloaded) {
  GatewayOptions o;
  o.workers = 1;
  o.maxQueued = 0;  // every job refused: what a queue of maxQueued waiting jobs looks like
  start(o);
  // (a plain POST with the backlog known needs no worker thread: one that waits does)
  const Answer a = post("orders", "x", {"Prefer: wait=5"});
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.header("retry-after"), "1");
  EXPECT_NE(a.error().find("overloaded"), std::string::npos) << a.error();
  EXPECT_EQ(curl("GET", "/v1/requests/" + id() + "?token=" + token()).status, 503);
}

}  // namespace

// Every open stream has a keep-alive comment each interval (the gateway serves the streams in
// slots, not all at once) and a stream with nothing but keep-alives is closed at its idle
// timeout; read with curl.
TEST_F(GatewayRefusals, EveryStreamHasItsKeepAlivesAndIdleStreamsAreClosed) {
  GatewayOptions o;
  o.keepalive = std::chrono::milliseconds(150);
  o.streamIdleTimeout = std::chrono::milliseconds(1500);
  start(o);
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) +
                          "/v1/namespaces/shop/channels/orders/events";
  std::vector<testing::CommandResult> read(4);
  std::vector<std::thread> readers;
  for (auto& r : read)
    readers.emplace_back([&r, &url] {
      r = testing::runCommand({"curl", "-sS", "-N", "--max-time", "10", url});
    });
  for (auto& t : readers)
    t.join();
  for (const auto& r : read) {
    EXPECT_EQ(r.code, 0) << "closed by curl's time limit, not by the gateway: " << r.err;
    size_t keepalives = 0;
    for (size_t at = r.out.find(": keep-alive"); at != std::string::npos;
         at = r.out.find(": keep-alive", at + 1))
      ++keepalives;
    EXPECT_GE(keepalives, 5u) << r.out;  // (about 10 in 1.5 s)
  }
}

}  // namespace osmosis::gateway
