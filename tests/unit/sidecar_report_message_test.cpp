#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/report/report.hpp"

namespace osmosis::report {
namespace {

Report sample() {
  Report r;
  r.namespace_ = "shop";
  r.channel = "orders";
  r.pod = "orders-worker-7d9c-abcde";
  r.mode = "dispatch";
  r.stream = "SHOP_ORDERS";
  r.consumer = "workers";
  r.figures = ConsumerFigures{500, 60, 3};
  r.processed = 1234;
  r.failed = 5;
  r.rate = 48.5;
  r.busyFraction = 0.75;
  r.inFlight = 4;
  r.concurrency = 8;
  r.ready = true;
  r.sequence = 17;
  r.time = std::chrono::system_clock::from_time_t(1790000000) + std::chrono::milliseconds(123);
  r.version = "0.1.0";
  return r;
}

TEST(ReportMessage, SubjectCarriesNamespaceAndChannel) {
  EXPECT_EQ(subjectFor("shop", "orders").value(), "osmosis.report.shop.orders");
  EXPECT_EQ(subjectFor("shop", "orders", "x.y").value(), "x.y.shop.orders");
  EXPECT_FALSE(subjectFor("", "orders").ok());
  EXPECT_FALSE(subjectFor("shop", "a.b").ok());
  EXPECT_FALSE(subjectFor("shop", "*").ok());
  EXPECT_FALSE(subjectFor("shop", "orders", "bad.>").ok());
}

TEST(ReportMessage, RoundTrips) {
  Report r = sample();
  std::string json = toJson(r);
  auto back = parse(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->namespace_, "shop");
  EXPECT_EQ(back->pod, r.pod);
  ASSERT_TRUE(back->figures.has_value());
  EXPECT_EQ(back->figures->pending, 500u);
  EXPECT_EQ(back->figures->ackPending, 60);
  EXPECT_EQ(back->figures->redelivered, 3);
  EXPECT_EQ(back->processed, 1234u);
  EXPECT_EQ(back->failed, 5u);
  EXPECT_DOUBLE_EQ(back->rate, 48.5);
  EXPECT_EQ(back->inFlight, 4);
  EXPECT_EQ(back->concurrency, 8);
  EXPECT_TRUE(back->ready);
  EXPECT_EQ(back->sequence, 17u);
  EXPECT_EQ(back->time, r.time);
  EXPECT_NE(json.find("\"time\":\"2026-09-21T"), std::string::npos) << json;
}

TEST(ReportMessage, MissingConsumerFiguresAreNull) {
  Report r = sample();
  r.figures.reset();
  r.error = "consumer not found";
  std::string json = toJson(r);
  EXPECT_NE(json.find("\"pending\":null"), std::string::npos);
  auto back = parse(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back->figures.has_value());
  EXPECT_EQ(back->error, "consumer not found");
}

TEST(ReportMessage, RejectsMalformed) {
  EXPECT_FALSE(parse("not json").ok());
  EXPECT_FALSE(parse("[]").ok());
  std::string good = toJson(sample());
  auto without = [&](const std::string& key) {
    auto j = nlohmann::json::parse(good);
    j.erase(key);
    return j.dump();
  };
  auto with = [&](const std::string& key, nlohmann::json v) {
    auto j = nlohmann::json::parse(good);
    j[key] = v;
    return j.dump();
  };
  for (auto key : {"schemaVersion", "namespace", "channel", "pod", "processed", "time", "version"})
    EXPECT_FALSE(parse(without(key)).ok()) << key;
  EXPECT_FALSE(parse(with("schemaVersion", 2)).ok());
  EXPECT_FALSE(parse(with("processed", -1)).ok());
  EXPECT_FALSE(parse(with("processed", "12")).ok());
  EXPECT_FALSE(parse(with("pending", -5)).ok());
  EXPECT_FALSE(parse(with("rate", -1.0)).ok());
  EXPECT_FALSE(parse(with("time", "yesterday")).ok());
  EXPECT_FALSE(parse(with("pod", "")).ok());
  EXPECT_FALSE(parse(with("ready", "yes")).ok());
  auto err = parse(with("schemaVersion", 2));
  EXPECT_NE(err.error().message.find("schemaVersion 2"), std::string::npos);
}

// Hostile input (issue 16, items 3 and 19): a year the clock cannot hold killed the operator;
// 100 KB names and nonsense dates were taken.
TEST(ReportMessage, RefusesTimesAndFieldsOutsideTheirBounds) {
  std::string good = toJson(sample());
  auto with = [&](const std::string& key, nlohmann::json v) {
    auto j = nlohmann::json::parse(good);
    j[key] = v;
    return j.dump();
  };
  for (const char* time :
       {"9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z", "2262-04-12T00:00:00.000Z",
        "1677-09-21T00:12:43.145Z", "2026-02-31T00:00:00.000Z", "2026-13-01T00:00:00.000Z",
        "2026-01-01T24:00:00.000Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000+01:00",
        "+026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Zjunk"}) {
    auto r = parse(with("time", time));
    EXPECT_FALSE(r.ok()) << time;
  }
  EXPECT_TRUE(parse(with("time", "2200-12-31T23:59:59.999Z")).ok());
  EXPECT_FALSE(parse(with("pod", std::string(100 * 1024, 'a'))).ok());
  EXPECT_FALSE(parse(with("pod", "Pod_Name")).ok());
  EXPECT_FALSE(parse(with("namespace", "a\"b")).ok());
  EXPECT_FALSE(parse(with("mode", "turbo")).ok());
  EXPECT_FALSE(parse(with("pending", 1e18)).ok()) << "a float";
  EXPECT_FALSE(parse(with("pending", uint64_t{1} << 60)).ok()) << "beyond any real count";
  EXPECT_FALSE(parse(with("rate", 1e300)).ok());
  EXPECT_FALSE(parse(with("busyFraction", 1.5)).ok());
  EXPECT_FALSE(parse(std::string(9000, ' ')).ok()) << "too large to parse at all";
  auto err = parse(with("error", std::string("x\x01") + std::string(5000, 'e')));
  ASSERT_TRUE(err.ok()) << "a long error is cut, not refused";
  EXPECT_LE(err->error.size(), 1024u);
  EXPECT_NO_THROW((void)nlohmann::json(err->error).dump());
}

}  // namespace
}  // namespace osmosis::report
