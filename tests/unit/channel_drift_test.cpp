// Drift between the wanted and the actual stream/consumer, status conditions, and reading a
// NATS connection Secret: all pure.

#include <set>

#include <gtest/gtest.h>

#include "operator/api/conditions.hpp"
#include "operator/api/drift.hpp"
#include "operator/natspool/nats_connections.hpp"

namespace osmosis::api {
namespace {

using natspool::parseNatsSecret;

using nlohmann::json;
using namespace std::chrono_literals;

nats::StreamConfig stream() {
  nats::StreamConfig s;
  s.name = "SHOP_ORDERS";
  s.subjects = {"shop.orders.>"};
  return s;
}

TEST(StreamDrift, NoneWhenEqual) {
  EXPECT_TRUE(streamDrift(stream(), stream()).empty());
}

TEST(StreamDrift, SubjectOrderDoesNotMatter) {
  auto a = stream(), b = stream();
  a.subjects = {"x", "y"};
  b.subjects = {"y", "x"};
  EXPECT_TRUE(streamDrift(a, b).empty());
}

TEST(StreamDrift, MutableFieldsAreListedWithOldAndNewValues) {
  auto want = stream(), have = stream();
  want.maxAge = 24h;
  want.maxMsgs = 100;
  want.discard = nats::Discard::kNew;
  auto changes = streamDrift(want, have);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_FALSE(anyImmutable(changes));
  EXPECT_EQ(describe(changes), "maxAge 0s -> 24h, maxMsgs -1 -> 100, discard Old -> New");
}

TEST(StreamDrift, StorageAndRetentionAreImmutable) {
  auto want = stream(), have = stream();
  want.storage = nats::Storage::kMemory;
  EXPECT_TRUE(anyImmutable(streamDrift(want, have)));
  want = stream();
  want.retention = nats::Retention::kLimits;
  EXPECT_TRUE(anyImmutable(streamDrift(want, have)));
}

TEST(StreamDrift, ZeroDuplicateWindowMeansServerDefault) {
  auto want = stream(), have = stream();
  want.duplicateWindow = 0ns;
  have.duplicateWindow = 2min;
  EXPECT_TRUE(streamDrift(want, have).empty());
  want.duplicateWindow = 1min;
  EXPECT_EQ(streamDrift(want, have).size(), 1u);
}

TEST(ConsumerDrift, FieldsCompared) {
  nats::ConsumerConfig want, have;
  want.durable = have.durable = "workers";
  EXPECT_TRUE(consumerDrift(want, have).empty());
  want.ackWait = 1min;
  want.backoff = {1s, 5s};
  want.maxAckPending = 10;
  auto changes = consumerDrift(want, have);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(describe(changes),
            "ackWait 30s -> 1s, maxAckPending 1000 -> 10, backoff [] -> [1s,5s]");
}

TEST(ConsumerDrift, WithABackoffListTheServersAckWaitIsItsFirstEntry) {
  nats::ConsumerConfig want, have;
  want.ackWait = 45s;
  want.backoff = {1s, 5s};
  have = want;
  have.ackWait = 1s;  // what the server reports
  EXPECT_TRUE(consumerDrift(want, have).empty()) << describe(consumerDrift(want, have));
}

TEST(Conditions, SetKeepsTransitionTimeWhileStatusHolds) {
  json cs = setCondition(nullptr, {"Ready", "False", "Pending", "wait", 1}, "T1");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0]["lastTransitionTime"], "T1");
  cs = setCondition(cs, {"Ready", "False", "NatsUnavailable", "down", 2}, "T2");
  EXPECT_EQ(cs[0]["lastTransitionTime"], "T1") << "same status: time kept";
  EXPECT_EQ(cs[0]["reason"], "NatsUnavailable");
  EXPECT_EQ(cs[0]["observedGeneration"], 2);
  cs = setCondition(cs, {"Ready", "True", "Provisioned", "ok", 2}, "T3");
  EXPECT_EQ(cs[0]["lastTransitionTime"], "T3") << "status changed: time moves";
}

TEST(Conditions, OtherTypesUntouchedAndFindWorks) {
  json cs = setCondition(nullptr, {"Ready", "True", "R", "m", 1}, "T1");
  cs = setCondition(cs, {"StreamReady", "True", "R", "m", 1}, "T1");
  cs = setCondition(cs, {"StreamReady", "False", "X", "m", 1}, "T2");
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(findCondition(cs, "Ready")["status"], "True");
  EXPECT_EQ(findCondition(cs, "StreamReady")["status"], "False");
  EXPECT_TRUE(findCondition(cs, "ConsumerReady").is_null());
  EXPECT_TRUE(findCondition("junk", "Ready").is_null());
}

TEST(Conditions, LongMessagesAreCut) {
  json cs = setCondition(nullptr, {"Ready", "False", "R", std::string(10000, 'x'), 1}, "T");
  EXPECT_LE(cs[0]["message"].get<std::string>().size(), 4096u);
}

json secret(json data) {
  return {{"metadata", {{"name", "nats"}, {"namespace", "shop"}}}, {"data", std::move(data)}};
}

// base64 of the given text (test data only).
std::string b64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (in.size() - i == 1) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

// The shape `nsc generate creds` writes (not a working key).
const char* kCreds =
    "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVQUJDIn0.c2lnbmF0dXJl\n"
    "------END NATS USER JWT------\n\n"
    "-----BEGIN USER NKEY SEED-----\nSUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n"
    "------END USER NKEY SEED------\n";
const char* kCert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const char* kKey = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

TEST(NatsSecret, UrlTokenAndFiles) {
  auto r = parseNatsSecret(
      secret({{"url", b64("nats://a:4222,nats://b:4222")}, {"token", b64("s3cret")}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().options.urls.size(), 2u);
  EXPECT_EQ(r.value().options.token, "s3cret");
  r = parseNatsSecret(
      secret({{"url", b64("tls://a:4222")}, {"creds", b64(kCreds)}, {"ca.crt", b64(kCert)}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().files.at("creds"), kCreds);
  EXPECT_EQ(r.value().files.at("ca.crt"), kCert);
  EXPECT_EQ(r.value().keys, (std::set<std::string>{"url", "creds", "ca.crt"}));
  EXPECT_TRUE(r.value().options.credsFile.empty()) << "paths are set when the files are written";
}

TEST(NatsSecret, UserAndPassword) {
  auto r = parseNatsSecret(
      secret({{"url", b64("nats://x:4222")}, {"user", b64("u")}, {"password", b64("p")}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().options.user, "u");
  EXPECT_EQ(r.value().options.password, "p");
}

TEST(NatsSecret, BadSecretsSayWhatIsWrong) {
  struct Case {
    json s;
    const char* expect;
  };
  for (const Case& c : std::initializer_list<Case>{
           {secret(json::object()), "no \"url\""},
           {secret({{"url", "%%%"}}), "not base64"},
           {secret({{"url", 5}}), "not a string"},
           {secret({{"url", b64("http://x:80")}}), "nats"},
           {secret({{"url", b64("nats://x:4222")}, {"tls.crt", b64(kCert)}}), "key"},
           {secret({{"url", b64("nats://x:4222")},
                    {"token", b64("t")},
                    {"user", b64("u")},
                    {"password", b64("p")}}),
            "one NATS authentication method"},
           {json{{"metadata", {{"name", "nats"}, {"namespace", "shop"}}}}, "no \"url\""},
           {secret({{"url", b64("nats://x:4222")}, {"creds", b64("not creds")}}),
            "not a NATS credentials file"},
           // Hostile input (issue 16, items 4, 20 and the URL list): refused with a reason
           // instead of a crash, a retry loop or a minutes-long connect.
           {secret({{"url", b64("nats://\x80")}}), "invalid NATS URL"},
           {secret({{"url", b64("nats://a:1,nats://b:1,nats://c:1,nats://d:1,nats://e:1,"
                                "nats://f:1,nats://g:1,nats://h:1,nats://i:1,nats://j:1,"
                                "nats://k:1,nats://l:1,nats://m:1,nats://n:1,nats://o:1,"
                                "nats://p:1,nats://q:1")}}),
            "too many NATS URLs"},
           {secret({{"url", b64("nats://x:4222")},
                    {"creds", b64(std::string(kCreds).replace(std::string(kCreds).find("SUAI"), 4,
                                                              "XXAI"))}}),
            "not a user seed"},
           {secret({{"url", b64("tls://x:4222")}, {"ca.crt", b64("garbage")}}),
            "ca.crt is not a PEM certificate"},
           {secret({{"url", b64("tls://x:4222")}, {"tls.crt", b64(kCert)}, {"tls.key", b64("k")}}),
            "tls.key is not a PEM private key"},
           {secret({{"url", b64("tls://x:4222")}, {"tls.crt", b64("c")}, {"tls.key", b64(kKey)}}),
            "tls.crt is not a PEM certificate"},
       }) {
    auto r = parseNatsSecret(c.s);
    ASSERT_FALSE(r.ok()) << c.s.dump();
    EXPECT_EQ(r.error().code, Error::Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("Secret shop/nats"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("\x80"), std::string::npos) << "printable only";
  }
}

}  // namespace
}  // namespace osmosis::api
