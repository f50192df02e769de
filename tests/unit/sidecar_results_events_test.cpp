// The results events' bodies and which messages get them (sidecar/results/events.hpp): pure,
// table tests.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/util/base64.hpp"
#include "sidecar/results/events.hpp"

namespace osmosis::sidecar::results {
namespace {

using nlohmann::json;
using Verdict = RequestIdCheck::Verdict;

const std::string kRand = "0123456789abcdef0123456789abcdef";

TEST(SidecarResultsEvents, RequestIdVerdicts) {
  struct Case {
    nats::Headers headers;
    Verdict want;
  };
  const std::string ours = "shop.orders." + kRand;
  std::vector<Case> cases = {
      {{}, Verdict::kAbsent},
      {{{"Content-Type", "text/plain"}}, Verdict::kAbsent},
      {{{"Osmosis-Request-Id", ours}}, Verdict::kOurs},
      {{{"osmosis-request-id", ours}}, Verdict::kOurs},  // names are case-insensitive
      {{{"Osmosis-Request-Id", ours}, {"Osmosis-Request-Id", ours}}, Verdict::kOurs},
      {{{"Osmosis-Request-Id", "shop.billing." + kRand}}, Verdict::kForeign},
      {{{"Osmosis-Request-Id", "other.orders." + kRand}}, Verdict::kForeign},
      {{{"Osmosis-Request-Id", ""}}, Verdict::kMalformed},
      {{{"Osmosis-Request-Id", "shop.orders.xyz"}}, Verdict::kMalformed},
      {{{"Osmosis-Request-Id", "shop.orders." + kRand + ".x"}}, Verdict::kMalformed},
      {{{"Osmosis-Request-Id", "shop.orders.0123456789ABCDEF0123456789ABCDEF"}},
       Verdict::kMalformed},
      {{{"Osmosis-Request-Id", "shop.ord*rs." + kRand}}, Verdict::kMalformed},
      {{{"Osmosis-Request-Id", "shop.orders.>"}}, Verdict::kMalformed},
      // Two different ids: which one was meant is unknown.
      {{{"Osmosis-Request-Id", ours},
        {"Osmosis-Request-Id", "shop.orders." + std::string(32, 'f')}},
       Verdict::kMalformed},
  };
  for (const auto& c : cases) {
    auto got = checkRequestId(c.headers, "shop", "orders");
    EXPECT_EQ(got.verdict, c.want) << (c.headers.empty() ? "" : c.headers[0].second);
    if (c.want == Verdict::kOurs) {
      EXPECT_EQ(got.id, ours);
    }
  }
}

TEST(SidecarResultsEvents, StepEvents) {
  EXPECT_EQ(json::parse(deliveredEvent(2, "w-1")),
            (json{{"type", "delivered"}, {"attempt", 2}, {"pod", "w-1"}}));
  EXPECT_EQ(json::parse(retryEvent(1, 5000, "the app answered 503")),
            (json{{"type", "retry"},
                  {"attempt", 1},
                  {"delayMs", 5000},
                  {"reason", "the app answered 503"}}));
  EXPECT_EQ(json::parse(failedEvent(404, "the app answered 404", true)),
            (json{{"type", "failed"},
                  {"status", 404},
                  {"reason", "the app answered 404"},
                  {"deadLettered", true}}));
  EXPECT_EQ(json::parse(failedEvent(std::nullopt, "no answer in time", false)),
            (json{{"type", "failed"},
                  {"status", nullptr},
                  {"reason", "no answer in time"},
                  {"deadLettered", false}}));
}

TEST(SidecarResultsEvents, ResultEvents) {
  struct Case {
    std::string name;
    AppAnswer answer;
    uint64_t limit;
    json want;
  };
  AppAnswer text{201,
                 {{"Content-Type", "application/json"},
                  {"X-Trace", "a"},
                  {"x-trace", "b"},
                  {"Content-Length", "11"},
                  {"Connection", "keep-alive"},
                  {"Transfer-Encoding", "chunked"}},
                 "{\"ok\":true}",
                 11,
                 true};
  AppAnswer binary{200, {}, std::string("\xff\x00\x01", 3), 3, true};
  AppAnswer big{200, {{"Content-Type", "text/plain"}}, "", 5000, false};
  AppAnswer overByLimit{200, {}, "abcdef", 6, true};
  AppAnswer empty{204, {}, "", 0, true};
  std::vector<Case> cases = {
      {"utf-8 text, headers lowercased, hop-by-hop left out, repeats joined",
       text,
       1024,
       {{"type", "result"},
        {"status", 201},
        {"headers", {{"content-type", "application/json"}, {"x-trace", "a, b"}}},
        {"body", "{\"ok\":true}"},
        {"bodyEncoding", "utf-8"}}},
      {"bytes that are not UTF-8 are base64",
       binary,
       1024,
       {{"type", "result"},
        {"status", 200},
        {"headers", json::object()},
        {"body", "/wAB"},
        {"bodyEncoding", "base64"}}},
      {"a body the reader did not keep",
       big,
       1024,
       {{"type", "result"},
        {"status", 200},
        {"headers", {{"content-type", "text/plain"}}},
        {"body", ""},
        {"bodyEncoding", "utf-8"},
        {"bodyOmitted", "5000 bytes over the 1024 limit"}}},
      {"a kept body over the limit",
       overByLimit,
       4,
       {{"type", "result"},
        {"status", 200},
        {"headers", json::object()},
        {"body", ""},
        {"bodyEncoding", "utf-8"},
        {"bodyOmitted", "6 bytes over the 4 limit"}}},
      {"no body",
       empty,
       1024,
       {{"type", "result"},
        {"status", 204},
        {"headers", json::object()},
        {"body", ""},
        {"bodyEncoding", "utf-8"}}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(json::parse(resultEvent(c.answer, c.limit)), c.want) << c.name;
}

TEST(SidecarResultsEvents, InvalidUtf8InHeadersDoesNotThrow) {
  AppAnswer a{200, {{"X-Bad", std::string("\xc3\x28", 2)}}, "ok", 2, true};
  auto event = json::parse(resultEvent(a, 1024));
  EXPECT_EQ(event["body"], "ok");
  EXPECT_TRUE(event["headers"].contains("x-bad"));
}

TEST(SidecarResultsEvents, ProgressEvents) {
  struct Case {
    std::string contentType;
    std::string body;
    std::optional<json> want;  // nullopt: refused
  };
  std::vector<Case> cases = {
      {"application/json", "{\"pct\":40}", json{{"type", "progress"}, {"data", {{"pct", 40}}}}},
      {"application/json; charset=utf-8", "[1,2]", json{{"type", "progress"}, {"data", {1, 2}}}},
      {"application/vnd.thing+json", "7", json{{"type", "progress"}, {"data", 7}}},
      {"text/plain", "half done", json{{"type", "progress"}, {"data", "half done"}}},
      {"", "{\"not\":\"parsed\"}", json{{"type", "progress"}, {"data", "{\"not\":\"parsed\"}"}}},
      {"application/json", "{broken", std::nullopt},
      {"text/plain", std::string("\xff\xfe", 2), std::nullopt},
  };
  for (const auto& c : cases) {
    auto got = progressEvent(c.contentType, c.body);
    if (!c.want) {
      EXPECT_FALSE(got.ok()) << c.contentType << " " << c.body;
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(json::parse(got.value()), *c.want) << c.contentType;
  }
}

TEST(SidecarResultsEvents, Utf8) {
  struct Case {
    std::string text;
    bool valid;
  };
  std::vector<Case> cases = {
      {"", true},
      {"plain ascii", true},
      {"caf\xc3\xa9", true},
      {"\xe2\x82\xac", true},       // euro sign
      {"\xf0\x9f\x98\x80", true},   // emoji
      {"\xc3", false},              // truncated
      {"\xe2\x82", false},          // truncated
      {"\xc0\xaf", false},          // overlong
      {"\xed\xa0\x80", false},      // surrogate
      {"\xf4\x90\x80\x80", false},  // past U+10FFFF
      {"\x80", false},              // lone continuation
      {"ok\xffok", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(validUtf8(c.text), c.valid) << c.text;
}

TEST(SidecarResultsEvents, Base64) {
  struct Case {
    std::string in, out;
  };
  // RFC 4648 section 10.
  std::vector<Case> cases = {{"", ""},
                             {"f", "Zg=="},
                             {"fo", "Zm8="},
                             {"foo", "Zm9v"},
                             {"foob", "Zm9vYg=="},
                             {"fooba", "Zm9vYmE="},
                             {"foobar", "Zm9vYmFy"}};
  for (const auto& c : cases)
    EXPECT_EQ(base64Encode(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace osmosis::sidecar::results
