// The gateway's pure parts: routing, headers, tokens, Retry-After, event frames, results,
// Channel entries.

#include <set>

#include <gtest/gtest.h>

#include "common/contract/gateway_contract.hpp"
#include "common/util/base64.hpp"
#include "gateway/api/headers.hpp"
#include "gateway/api/routes.hpp"
#include "gateway/auth/request_token.hpp"
#include "gateway/backpressure/retry_after.hpp"
#include "gateway/channels/channel_directory.hpp"
#include "gateway/channels/kube_channels.hpp"
#include "gateway/events/event_format.hpp"
#include "gateway/events/result_response.hpp"

namespace osmosis::gateway {
namespace {

using namespace std::chrono_literals;
const std::string kId = "shop.orders.0123456789abcdef0123456789abcdef";

TEST(GatewayRoutes, Table) {
  struct Case {
    const char* method;
    const char* path;
    Route::Verdict verdict;
    Endpoint endpoint;
  };
  using V = Route::Verdict;
  const Case cases[] = {
      {"POST", "/v1/namespaces/shop/channels/orders/messages", V::kMatched, Endpoint::kPublish},
      {"GET", "/v1/namespaces/shop/channels/orders/messages", V::kMethodNotAllowed,
       Endpoint::kPublish},
      {"PUT", "/v1/namespaces/shop/channels/orders/messages", V::kMethodNotAllowed,
       Endpoint::kPublish},
      {"GET", "/v1/namespaces/shop/channels/orders/events", V::kMatched, Endpoint::kChannelEvents},
      {"HEAD", "/v1/namespaces/shop/channels/orders/events", V::kMatched, Endpoint::kChannelEvents},
      {"POST", "/v1/namespaces/shop/channels/orders/events", V::kMethodNotAllowed,
       Endpoint::kChannelEvents},
      {"GET", "/v1/requests/shop.orders.0123456789abcdef0123456789abcdef", V::kMatched,
       Endpoint::kRequestStatus},
      {"GET", "/v1/requests/shop.orders.0123456789abcdef0123456789abcdef/result", V::kMatched,
       Endpoint::kRequestResult},
      {"GET", "/v1/requests/shop.orders.0123456789abcdef0123456789abcdef/events", V::kMatched,
       Endpoint::kRequestEvents},
      {"DELETE", "/v1/requests/shop.orders.0123456789abcdef0123456789abcdef", V::kMethodNotAllowed,
       Endpoint::kRequestStatus},
      {"GET", "/v1/requests/shop.orders.0123456789ABCDEF0123456789abcdef", V::kBadName,
       Endpoint::kRequestStatus},
      {"GET", "/v1/requests/1", V::kBadName, Endpoint::kRequestStatus},
      {"GET", "/v1/requests/a.b.c.0123456789abcdef0123456789abcdef", V::kBadName,
       Endpoint::kRequestStatus},
      {"POST", "/v1/namespaces/Sh%20op/channels/orders/messages", V::kBadName, Endpoint::kPublish},
      {"POST", "/v1/namespaces/sh.op/channels/orders/messages", V::kBadName, Endpoint::kPublish},
      {"POST", "/v1/namespaces/shop/channels/orders/messages/", V::kNotFound, Endpoint::kPublish},
      {"POST", "/v1/namespaces//channels/orders/messages", V::kBadName, Endpoint::kPublish},
      {"GET", "/", V::kNotFound, Endpoint::kPublish},
      {"GET", "", V::kNotFound, Endpoint::kPublish},
      {"GET", "/v2/requests/x", V::kNotFound, Endpoint::kPublish},
      {"GET", "/v1/requests//events", V::kBadName, Endpoint::kRequestEvents},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path);
    const Route r = route(c.method, c.path);
    EXPECT_EQ(r.verdict, c.verdict);
    if (c.verdict != V::kNotFound) {
      EXPECT_EQ(r.endpoint, c.endpoint);
    }
    if (c.verdict == V::kMethodNotAllowed) {
      EXPECT_FALSE(r.allow.empty());
    }
  }
  const Route r = route("POST", "/v1/namespaces/shop/channels/orders/messages");
  EXPECT_EQ(r.ns, "shop");
  EXPECT_EQ(r.channel, "orders");
}

TEST(GatewayHeaders, IdempotencyKey) {
  std::string problem;
  EXPECT_EQ(parseIdempotencyKey("abc-123", &problem).value(), "abc-123");
  EXPECT_EQ(parseIdempotencyKey("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", &problem).value(),
            "8e03978e-40d5-43e8-bc93-6894a57f9324");
  for (std::string bad :
       {std::string(""), std::string("\"\""), std::string("a b"), std::string(256, 'k'),
        std::string("caf\xc3\xa9"), std::string("a\"b"), std::string("tab\there")}) {
    problem.clear();
    EXPECT_FALSE(parseIdempotencyKey(bad, &problem)) << bad;
    EXPECT_FALSE(problem.empty());
  }
  EXPECT_TRUE(parseIdempotencyKey(std::string(255, 'k'), &problem));
}

TEST(GatewayHeaders, PreferWait) {
  EXPECT_EQ(preferWait("wait=10", 60s), 10s);
  EXPECT_EQ(preferWait("respond-async, wait=5", 60s), 5s);
  EXPECT_EQ(preferWait("WAIT = 7 ;x=1", 60s), 7s);
  EXPECT_EQ(preferWait("wait=600", 60s), 60s);  // capped
  EXPECT_EQ(preferWait("wait=0", 60s), 0s);
  EXPECT_FALSE(preferWait("wait=-1", 60s));
  EXPECT_FALSE(preferWait("wait=soon", 60s));
  EXPECT_FALSE(preferWait("return=minimal", 60s));
  EXPECT_FALSE(preferWait("", 60s));
  EXPECT_FALSE(preferWait("wait=99999999999999999999999", 60s));
}

TEST(GatewayHeaders, TokensAndQuery) {
  EXPECT_EQ(bearerToken("Bearer abc"), "abc");
  EXPECT_EQ(bearerToken("bearer   abc "), "abc");
  EXPECT_EQ(bearerToken("Basic abc"), "");
  EXPECT_EQ(bearerToken("Bearer"), "");
  EXPECT_EQ(queryParam("/x?token=abc&lastEventId=5", "token"), "abc");
  EXPECT_EQ(queryParam("/x?token=abc&lastEventId=5", "lastEventId"), "5");
  EXPECT_EQ(queryParam("/x?tokens=abc", "token"), "");
  EXPECT_EQ(queryParam("/x", "token"), "");
  EXPECT_EQ(parseLastEventId("42").value(), 42u);
  EXPECT_FALSE(parseLastEventId("-1"));
  EXPECT_FALSE(parseLastEventId("4x"));
  EXPECT_FALSE(parseLastEventId(""));
}

TEST(GatewayTokens, SignedIdsCannotBeForgedOrEnumerated) {
  EXPECT_FALSE(RequestSigner::create("short"));
  auto signer = RequestSigner::create(std::string(32, 'k')).value();
  auto other = RequestSigner::create(std::string(32, 'x')).value();
  const std::string token = signer.token(kId);
  EXPECT_TRUE(signer.tokenMatches(kId, token));
  EXPECT_FALSE(other.tokenMatches(kId, token));  // another key
  EXPECT_FALSE(signer.tokenMatches("shop.orders.0123456789abcdef0123456789abcdee", token));
  EXPECT_FALSE(signer.tokenMatches(kId, token.substr(1)));
  EXPECT_FALSE(signer.tokenMatches(kId, ""));
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);  // safe in a query string

  // Random parts are well-formed ids and differ.
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto part = RequestSigner::randomIdPart();
    EXPECT_TRUE(contract::gateway::parseRequestId("a.b." + part)) << part;
    seen.insert(part);
  }
  EXPECT_EQ(seen.size(), 100u);

  // Idempotent ids: stable for the same key, channel and publisher; different otherwise.
  const auto a = signer.idempotentIdPart("shop", "orders", "", "key-1");
  EXPECT_EQ(a, signer.idempotentIdPart("shop", "orders", "", "key-1"));
  EXPECT_TRUE(contract::gateway::parseRequestId("shop.orders." + a));
  EXPECT_NE(a, signer.idempotentIdPart("shop", "orders", "", "key-2"));
  EXPECT_NE(a, signer.idempotentIdPart("shop", "other", "", "key-1"));
  EXPECT_NE(a, signer.idempotentIdPart("shop", "orders", publisherScope("t1"), "key-1"));
  EXPECT_NE(signer.idempotentIdPart("shop", "orders", publisherScope("t1"), "key-1"),
            signer.idempotentIdPart("shop", "orders", publisherScope("t2"), "key-1"));
  EXPECT_NE(a, other.idempotentIdPart("shop", "orders", "", "key-1"));
}

TEST(GatewayBackpressure, RetryAfterFromDrainRate) {
  struct Case {
    DrainEstimate e;
    int64_t want;
  };
  const Case cases[] = {
      {{1000, 1000, 100}, 1},         // 100 over 90% at 100/s: 1 s
      {{10000, 1000, 100}, 91},       // 9100 over: 91 s
      {{10000, 1000, 0}, 5},          // unknown rate: the fallback
      {{10000, 1000, -3}, 5},         //
      {{1'000'000'000, 10, 1}, 300},  // capped
      {{5, 1000, 50}, 1},             // under the target already: at least 1 s
      {{1000, 0, 1000}, 1},           // limit 0 (the stream refused): the backlog at the rate
      {{2500, 0, 1000}, 3},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.e.backlog) + "/" + std::to_string(c.e.limit) + " at " +
                 std::to_string(c.e.drainPerSecond));
    EXPECT_EQ(retryAfter(c.e).count(), c.want);
  }
  // Property: more backlog never means a shorter wait; a faster drain never a longer one.
  for (int64_t b = 0; b < 50000; b += 997) {
    EXPECT_LE(retryAfter({b, 1000, 40}), retryAfter({b + 500, 1000, 40}));
    EXPECT_GE(retryAfter({b, 1000, 40}), retryAfter({b, 1000, 80}));
  }
}

nats::StoredMessage stored(uint64_t seq, const std::string& event, const std::string& data) {
  nats::StoredMessage m;
  m.subject = contract::gateway::resultsSubject(kId);
  m.sequence = seq;
  m.headers = {{"Osmosis-Event", event}};
  m.data = data;
  return m;
}

TEST(GatewayEvents, SseAndWebSocketFrames) {
  const Event e = toEvent(stored(7, "delivered", R"({"type":"delivered","attempt":1})"));
  EXPECT_EQ(e.id, 7u);
  EXPECT_FALSE(e.final);
  EXPECT_EQ(sseFrame(e),
            "id: 7\nevent: delivered\ndata: {\"attempt\":1,\"type\":\"delivered\"}\n\n");
  EXPECT_EQ(webSocketFrame(e),
            R"({"data":{"attempt":1,"type":"delivered"},"event":"delivered","id":7})");
  // Data that is not JSON, or has line breaks, still makes one data line.
  const Event text = toEvent(stored(8, "progress", "half\nway"));
  EXPECT_EQ(sseFrame(text), "id: 8\nevent: progress\ndata: \"half\\nway\"\n\n");
  // An event name that would break the frame is neutralised.
  EXPECT_EQ(toEvent(stored(9, "x\ny: z", "{}")).type, "x_y__z");
  EXPECT_TRUE(toEvent(stored(10, "result", "{}")).final);
  EXPECT_TRUE(toEvent(stored(10, "failed", "{}")).final);
  EXPECT_EQ(sseComment("a\nb"), ": a b\n\n");
  EXPECT_EQ(sseRetry(2000), "retry: 2000\n\n");
  const Event lost = historyLost(3, 10);
  EXPECT_EQ(lost.type, "history-lost");
  EXPECT_NE(sseFrame(lost).find("\"firstAvailable\":10"), std::string::npos);
}

TEST(GatewayEvents, ResultResponses) {
  auto ok = resultResponse(stored(
      5, "result",
      R"({"type":"result","status":201,"headers":{"content-type":"application/json","x-trace":"t1","connection":"close"},"body":"{\"total\":3}","bodyEncoding":"utf-8"})"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201);
  EXPECT_EQ(ok->contentType, "application/json");
  EXPECT_EQ(ok->body, "{\"total\":3}");
  ASSERT_EQ(ok->headers.size(), 1u);  // x-trace only: never hop-by-hop headers
  EXPECT_EQ(ok->headers[0].first, "x-trace");

  auto bin = resultResponse(stored(6, "result",
                                   R"({"type":"result","status":200,"body":")" +
                                       base64Encode(std::string("\x00\xff", 2)) +
                                       R"(","bodyEncoding":"base64"})"));
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->body, std::string("\x00\xff", 2));
  auto badBase64 = resultResponse(
      stored(6, "result", R"({"type":"result","status":200,"body":"!!","bodyEncoding":"base64"})"));
  EXPECT_EQ(badBase64->status, 502);

  auto failed = resultResponse(stored(
      7, "failed", R"({"type":"failed","status":400,"reason":"bad order","deadLettered":true})"));
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 502);
  EXPECT_NE(failed->body.find("bad order"), std::string::npos);

  EXPECT_FALSE(resultResponse(stored(8, "delivered", "{}")));
  // A status outside 2xx in a result event (a broken sidecar) is not passed on as such.
  EXPECT_EQ(resultResponse(stored(9, "result", R"({"status":500})"))->status, 200);
  EXPECT_EQ(resultResponse(stored(9, "result", "not json"))->status, 200);
}

// Found by the result_event fuzz target's seed corpus: a result event whose fields have other
// types than the contract's made json::value() throw out of resultResponse (a 500 for GET
// .../result, and the results hub's other listeners of that message skipped).
TEST(GatewayEvents, ResultFieldsOfTheWrongTypeAreReadAsAbsent) {
  auto wrong = resultResponse(stored(
      10, "result", R"({"type":"result","status":"201","body":7,"bodyEncoding":["base64"]})"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 200);
  EXPECT_EQ(wrong->body, "");
  auto huge = resultResponse(stored(11, "result", R"({"status":1e300,"body":"hi"})"));
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 200);
  EXPECT_EQ(huge->body, "hi");
  EXPECT_EQ(resultResponse(stored(12, "result", R"({"status":204.0})"))->status, 200);
  EXPECT_EQ(resultResponse(stored(13, "result", R"({"status":18446744073709551615})"))->status,
            200);
}

// Found by the sidecar_results fuzz target: a header name that is not an HTTP token (here
// with CR LF, which would have split the answer) was written to the client as it was.
TEST(GatewayEvents, ResultHeaderNamesThatAreNotTokensAreLeftOut) {
  auto r = resultResponse(stored(
      14, "result",
      R"({"status":200,"headers":{"x-a\r\nset-cookie: s=1":"v","x-sp ace":"2","x-\u00fc":"3","x-ok":"1"}})"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "x-ok");
}

TEST(GatewayChannels, EntryFromChannelObject) {
  nlohmann::json ch = nlohmann::json::parse(R"({
    "apiVersion": "osmosis.dev/v1alpha1", "kind": "Channel",
    "metadata": {"namespace": "shop", "name": "orders"},
    "spec": {"gateway": {"enabled": true, "publishers": {"secretRef": {"name": "pub"}},
                         "maxBacklog": 500}},
    "status": {"throughput": {"perPodRate": 40}, "replicas": {"current": 3, "desired": 3}}
  })");
  const ChannelEntry e = channelEntry(ch);
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.publishSubject, "shop.orders.gateway");
  EXPECT_EQ(e.stream, "SHOP_ORDERS");
  EXPECT_EQ(e.consumer, "workers");
  EXPECT_EQ(e.resultsStream, "SHOP_ORDERS_RESULTS");
  EXPECT_EQ(e.publishersSecret, "pub");
  EXPECT_EQ(e.maxBacklog, 500);
  EXPECT_DOUBLE_EQ(e.drainPerSecond, 120);

  ch["spec"]["gateway"]["enabled"] = false;
  EXPECT_FALSE(channelEntry(ch).enabled);
  ch["spec"] = {{"gateway", {{"enabled", true}}}, {"stream", {{"maxAge", "forever"}}}};
  EXPECT_FALSE(channelEntry(ch).enabled);  // an invalid spec is not served
  ch["spec"] = "nonsense";
  EXPECT_FALSE(channelEntry(ch).enabled);

  EXPECT_EQ(publishSubjectFor("orders.*.new"), "orders.gateway.new");
  EXPECT_EQ(publishSubjectFor("orders.new"), "orders.new");
  EXPECT_EQ(publishSubjectFor("orders.>"), "orders.gateway");
}

TEST(GatewayChannels, SecretTokens) {
  nlohmann::json s{{"data",
                    {{"a", base64Encode("tok-1\n")},
                     {"b", base64Encode("tok-2")},
                     {"empty", ""},
                     {"bad", "%%%"},
                     {"num", 3}}}};
  EXPECT_EQ(secretTokens(s), (std::vector<std::string>{"tok-1", "tok-2"}));
  EXPECT_TRUE(secretTokens(nlohmann::json::object()).empty());
  EXPECT_TRUE(secretTokens(nlohmann::json{{"data", "x"}}).empty());
}

TEST(Base64, RoundTripAndRefusals) {
  for (std::string s : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("foob"), std::string("\x00\x01\xfe\xff", 4)}) {
    EXPECT_EQ(base64Decode(base64Encode(s)).value(), s);
  }
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  for (const char* bad : {"Zm9", "Zm=v", "Z===", "Zm9v!A==", "=Zm9"})
    EXPECT_FALSE(base64Decode(bad)) << bad;
}

}  // namespace
}  // namespace osmosis::gateway
