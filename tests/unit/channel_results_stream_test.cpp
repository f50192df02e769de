// The results stream's decisions (operator/channel/results_stream.hpp), pure: its config from
// the spec, what to do about the server's copy, and when to look for a leftover one.

#include <gtest/gtest.h>

#include "operator/channel/results_stream.hpp"

namespace osmosis::channel {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

api::ChannelSpec spec(json gateway, json stream = json::object()) {
  api::ParsedChannel p =
      api::parseChannel({{"metadata", {{"namespace", "shop"}, {"name", "orders"}}},
                         {"spec", {{"gateway", gateway}, {"stream", stream}}}});
  EXPECT_TRUE(p.problems.empty()) << api::describe(p.problems);
  return p.spec;
}

TEST(ResultsStream, ConfigFollowsTheGatewayAndTheChannelsStream) {
  nats::StreamConfig c = resultsStreamConfig(
      "shop", "orders",
      spec({{"enabled", true}, {"resultsMaxAge", "1h"}},
           {{"storage", "Memory"}, {"replicas", 3}, {"maxAge", "24h"}, {"discard", "New"}}));
  EXPECT_EQ(c.name, "SHOP_ORDERS_RESULTS");
  EXPECT_EQ(c.subjects, std::vector<std::string>{"osmosis.results.shop.orders.>"});
  EXPECT_EQ(c.retention, nats::Retention::kLimits);
  EXPECT_EQ(c.storage, nats::Storage::kMemory);
  EXPECT_EQ(c.replicas, 3);
  EXPECT_EQ(c.maxAge, 1h) << "resultsMaxAge, not the channel's maxAge";
  EXPECT_EQ(c.discard, nats::Discard::kOld) << "old events make way, never a refused result";
  EXPECT_EQ(c.maxBytes, -1);
  EXPECT_EQ(c.maxMsgs, -1);
  EXPECT_EQ(c.duplicateWindow, 2min);
  // The server refuses a duplicate window longer than the max age.
  EXPECT_EQ(resultsStreamConfig("shop", "orders", spec({{"resultsMaxAge", "30s"}})).duplicateWindow,
            30s);
  EXPECT_EQ(resultsStreamConfig("shop", "orders", spec({{"resultsMaxAge", "2m"}})).duplicateWindow,
            2min);
}

TEST(ResultsStream, PlanCoversEveryCase) {
  const nats::StreamConfig want = resultsStreamConfig("shop", "orders", spec({{"enabled", true}}));
  History fresh, seen{true, true}, edited{true, false};
  EXPECT_EQ(planResultsStream(std::nullopt, std::nullopt, fresh).action, ResultsAction::kNone);
  ResultsPlan p = planResultsStream(std::nullopt, want, seen);
  EXPECT_EQ(p.action, ResultsAction::kDelete);
  EXPECT_STREQ(p.reason, "ResultsStreamDeleted");
  EXPECT_FALSE(p.warning);
  EXPECT_NE(p.message.find("SHOP_ORDERS_RESULTS"), std::string::npos) << p.message;

  p = planResultsStream(want, std::nullopt, fresh);
  EXPECT_EQ(p.action, ResultsAction::kCreate);
  EXPECT_STREQ(p.reason, "ResultsStreamCreated");
  EXPECT_FALSE(p.warning);
  EXPECT_NE(p.message.find("results stream SHOP_ORDERS_RESULTS"), std::string::npos) << p.message;
  p = planResultsStream(want, std::nullopt, seen);
  EXPECT_STREQ(p.reason, "ResultsStreamRecreated");
  EXPECT_TRUE(p.warning);

  EXPECT_EQ(planResultsStream(want, want, seen).action, ResultsAction::kNone);
  nats::StreamConfig have = want;
  have.maxAge = 1h;
  p = planResultsStream(want, have, edited);
  EXPECT_EQ(p.action, ResultsAction::kUpdate);
  EXPECT_STREQ(p.reason, "ResultsStreamUpdated");
  EXPECT_FALSE(p.warning);
  p = planResultsStream(want, have, seen);
  EXPECT_STREQ(p.reason, "ResultsStreamDriftRepaired");
  EXPECT_TRUE(p.warning);
  EXPECT_NE(p.message.find("maxAge"), std::string::npos) << p.message;

  have = want;
  have.retention = nats::Retention::kWorkQueue;
  p = planResultsStream(want, have, seen);
  EXPECT_EQ(p.action, ResultsAction::kReplace) << "transient: replaced, never refused";
  EXPECT_STREQ(p.reason, "ResultsStreamReplaced");
  EXPECT_TRUE(p.warning);
  EXPECT_NE(p.message.find("retention"), std::string::npos) << p.message;
}

TEST(ResultsStream, LooksForALeftoverUntilAPassSaidDisabled) {
  const json disabled = {
      {"conditions",
       json::array({{{"type", "GatewayReady"}, {"status", "False"}, {"reason", "Disabled"}}})}};
  EXPECT_TRUE(resultsStreamMayExist(json(), false)) << "no status yet";
  EXPECT_TRUE(resultsStreamMayExist(json::object(), false)) << "written before the gateway";
  EXPECT_FALSE(resultsStreamMayExist(disabled, false));
  EXPECT_TRUE(resultsStreamMayExist(disabled, true)) << "this process made one since";
  json withGateway = disabled;
  withGateway["gateway"] = {{"resultsStream", "SHOP_ORDERS_RESULTS"}};
  EXPECT_TRUE(resultsStreamMayExist(withGateway, false));
  for (const char* reason : {"ResultsStreamFailed", "ResultsStreamReady", "NatsUnavailable"}) {
    json other = disabled;
    other["conditions"][0]["reason"] = reason;
    EXPECT_TRUE(resultsStreamMayExist(other, false)) << reason;
  }
}

TEST(ResultsStream, OnDeletionItGoesWhateverThePolicy) {
  const json disabled = {
      {"conditions",
       json::array({{{"type", "GatewayReady"}, {"status", "False"}, {"reason", "Disabled"}}})}};
  const api::ChannelSpec off = spec({{"enabled", false}}), on = spec({{"enabled", true}});
  EXPECT_EQ(resultsOnDeletion(on, disabled, false), ResultsOnDeletion::kMust);
  EXPECT_EQ(resultsOnDeletion(off, disabled, true), ResultsOnDeletion::kMust);
  json recorded = disabled;
  recorded["gateway"] = {{"resultsStream", "SHOP_ORDERS_RESULTS"}};
  EXPECT_EQ(resultsOnDeletion(off, recorded, false), ResultsOnDeletion::kMust);
  EXPECT_EQ(resultsOnDeletion(off, json::object(), false), ResultsOnDeletion::kTry);
  EXPECT_EQ(resultsOnDeletion(off, disabled, false), ResultsOnDeletion::kSkip);
}

}  // namespace
}  // namespace osmosis::channel
