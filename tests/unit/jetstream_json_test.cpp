// The JetStream management API's JSON, built and read by us (issue 16, item 1): whatever a
// string holds stays inside its JSON string; a broken reply is an error, not a crash.

#include "common/nats/jetstream_json.hpp"

#include <gtest/gtest.h>

#include "common/nats/leader_memory.hpp"

namespace osmosis::nats {
namespace {

using nlohmann::json;

TEST(JetStreamJson, ASubjectCannotAddFieldsToAStreamConfig) {
  StreamConfig c;
  c.name = "RD_X";
  c.subjects = {R"(inj3.a"],"sources":[{"name":"VICTIM3_DATA"}],"subjects":["inj3.a)"};
  c.maxAge = std::chrono::hours(24);
  json body = toApiJson(c);
  json back = json::parse(body.dump());
  EXPECT_FALSE(back.contains("sources"));
  ASSERT_EQ(back["subjects"].size(), 1u);
  EXPECT_EQ(back["subjects"][0], c.subjects[0]) << "one literal (if odd) subject, escaped";
  EXPECT_EQ(back["retention"], "workqueue");
  EXPECT_EQ(back["max_age"], int64_t{86400} * 1000000000);
  EXPECT_EQ(back["duplicate_window"], int64_t{120} * 1000000000);
}

TEST(JetStreamJson, ConsumerConfig) {
  ConsumerConfig c;
  c.durable = "workers";
  c.maxDeliver = 5;
  c.backoff = {std::chrono::seconds(1), std::chrono::seconds(5)};
  json body = toApiJson("SHOP_ORDERS", c);
  EXPECT_EQ(body["stream_name"], "SHOP_ORDERS");
  EXPECT_EQ(body["config"]["durable_name"], "workers");
  EXPECT_EQ(body["config"]["ack_policy"], "explicit");
  EXPECT_EQ(body["config"]["backoff"], (json{1000000000, 5000000000}));
  EXPECT_FALSE(body["config"].contains("filter_subject"));
  EXPECT_EQ(consumerApiSubject("DURABLE.CREATE", "SHOP_ORDERS", "workers"),
            "$JS.API.CONSUMER.DURABLE.CREATE.SHOP_ORDERS.workers");
  EXPECT_EQ(streamApiSubject("INFO", "SHOP_ORDERS"), "$JS.API.STREAM.INFO.SHOP_ORDERS");
}

TEST(JetStreamJson, RepliesAndErrors) {
  auto ok = parseApiReply(
      R"({"type":"x","config":{"name":"S","subjects":["a.>"],"retention":"limits","max_age":5,
          "num_replicas":3,"discard":"new"},"state":{"messages":7,"last_seq":9}})",
      "reading stream S");
  ASSERT_TRUE(ok.ok());
  auto info = parseStreamInfo(ok.value());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->config.retention, Retention::kLimits);
  EXPECT_EQ(info->config.replicas, 3);
  EXPECT_EQ(info->config.discard, Discard::kNew);
  EXPECT_EQ(info->state.messages, 7u);
  EXPECT_EQ(info->state.lastSequence, 9u);

  auto notFound = parseApiReply(
      R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})", "reading X");
  ASSERT_FALSE(notFound.ok());
  EXPECT_EQ(notFound.error().code, Error::Code::kNotFound);
  EXPECT_EQ(notFound.error().message, "reading X: stream not found [JetStream error 10059]");
  auto overlap = parseApiReply(
      R"({"error":{"code":400,"err_code":10065,"description":"subjects overlap"}})", "creating");
  EXPECT_EQ(overlap.error().code, Error::Code::kConflict);
  auto other = parseApiReply(R"({"error":{"code":400,"description":"bad"}})", "creating");
  EXPECT_EQ(other.error().code, Error::Code::kInvalidArgument);
}

TEST(JetStreamJson, MalformedRepliesAreErrors) {
  for (const char* bad : {"", "null", "[]", "{", "\xff"}) {
    auto r = parseApiReply(bad, "reading S");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("malformed JetStream reply"), std::string::npos);
  }
  for (const char* bad : {R"({"config":{"name":5}})", R"({"config":{"name":"S"},"state":"x"})",
                          R"({"config":{"name":"S"},"state":{"messages":-1}})",
                          R"({"config":{"name":"S","subjects":[1]}})", R"({"config":{}})"}) {
    auto r = parseStreamInfo(json::parse(bad));
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_FALSE(parseConsumerInfo(json::parse(R"({"name":"w","num_pending":"many"})")).ok());
  EXPECT_FALSE(parseConsumerInfo(json::parse(R"({"name":"w","config":{"backoff":"1s"}})")).ok());
  auto ci = parseConsumerInfo(json::parse(
      R"({"stream_name":"S","name":"w","num_pending":3,"num_ack_pending":2,"config":{"max_deliver":-1},"delivered":{"stream_seq":9}})"));
  ASSERT_TRUE(ci.ok()) << ci.error().message;
  EXPECT_EQ(ci->numPending, 3u);
  EXPECT_EQ(ci->config.maxDeliver, -1);
  EXPECT_EQ(ci->deliveredStreamSequence, 9u);
  EXPECT_EQ(ci->leader, "");
}

// STREAM.LIST: every entry parsed as a STREAM.INFO answer; a bad entry fails the page.
TEST(JetStreamJson, AStreamListPage) {
  auto page =
      parseStreamPage(json::parse(R"({"type":"io.nats.jetstream.api.v1.stream_list_response",
      "total":3,"offset":0,"limit":256,"missing":["C"],"streams":[
      {"config":{"name":"A"},"state":{"messages":2,"last_seq":7}},
      {"config":{"name":"B","num_replicas":3},"state":{}}]})"));
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->total, 3u);
  ASSERT_EQ(page->streams.size(), 2u);
  EXPECT_EQ(page->streams[0].config.name, "A");
  EXPECT_EQ(page->streams[0].state.lastSequence, 7u);
  EXPECT_TRUE(page->streams[1].leaderless);
  EXPECT_EQ(page->missing, std::vector<std::string>{"C"});
  auto empty = parseStreamPage(json::parse(R"({"total":0,"offset":0,"streams":null})"));
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->streams.empty());
  for (const char* bad :
       {R"({"total":-1})", R"({"total":1,"streams":{}})", R"({"total":1,"streams":[5]})",
        R"({"total":1,"streams":[{"config":{}}]})", R"({"total":1,"missing":"C"})"})
    EXPECT_FALSE(parseStreamPage(json::parse(bad)).ok()) << bad;
}

// Asked again: "temporarily unavailable" (10008, a cluster handing a leader over), twice,
// after 250 and 500 ms, for any call; a read that timed out (its leader was leaving), once
// and at once. Anything else is the answer.
TEST(JetStreamJson, TemporarilyUnavailableAndAReadsTimeoutAreAskedAgain) {
  auto reply = parseApiReply(
      R"({"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}})",
      "reading S");
  ASSERT_FALSE(reply.ok());
  const Error unavailable = reply.error();
  EXPECT_EQ(unavailable.code, Error::Code::kUnavailable);
  auto notFound = parseApiReply(
      R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})", "reading S");
  ASSERT_FALSE(notFound.ok());
  const Error timeout = makeError(Error::Code::kTimeout, "reading S: Timeout");
  using ms = std::chrono::milliseconds;
  struct Row {
    const char* what;
    Error error;
    int attempt;
    ApiCall call;
    std::optional<ms> delay;
  };
  const Row rows[] = {
      {"10008, first answer", unavailable, 0, ApiCall::kWrite, ms(250)},
      {"10008, second answer", unavailable, 1, ApiCall::kWrite, ms(500)},
      {"10008, third answer", unavailable, 2, ApiCall::kWrite, std::nullopt},
      {"10008 to a read", unavailable, 0, ApiCall::kRead, ms(250)},
      {"not found", notFound.error(), 0, ApiCall::kRead, std::nullopt},
      {"a read's timeout", timeout, 0, ApiCall::kRead, ms(0)},
      {"a read's second timeout", timeout, 1, ApiCall::kRead, std::nullopt},
      {"a write's timeout: it may have been carried out", timeout, 0, ApiCall::kWrite,
       std::nullopt},
      {"unavailable without 10008 (no responders)",
       makeError(Error::Code::kUnavailable, "no JetStream answers"), 0, ApiCall::kRead,
       std::nullopt},
      {"a negative attempt", timeout, -1, ApiCall::kRead, std::nullopt},
  };
  for (const auto& r : rows)
    EXPECT_EQ(retryDelay(r.error, r.attempt, r.call), r.delay) << r.what;
}

TEST(JetStreamJson, TheLeaderThatAnsweredIsKept) {
  auto si = parseStreamInfo(json::parse(
      R"({"config":{"name":"S"},"state":{},"cluster":{"name":"c","leader":"n1","replicas":[]}})"));
  ASSERT_TRUE(si.ok()) << si.error().message;
  EXPECT_EQ(si->leader, "n1");
  auto ci = parseConsumerInfo(json::parse(R"({"name":"w","cluster":{"leader":"n2"}})"));
  ASSERT_TRUE(ci.ok()) << ci.error().message;
  EXPECT_EQ(ci->leader, "n2");
  EXPECT_FALSE(parseConsumerInfo(json::parse(R"({"name":"w","cluster":{"leader":7}})")).ok());
  EXPECT_FALSE(parseStreamInfo(json::parse(R"({"config":{"name":"S"},"cluster":[]})")).ok());
}

// While a group elects a leader the meta leader answers with the config and zeroed figures;
// such an answer is marked, so nothing acts on its figures.
TEST(JetStreamJson, AClusteredAnswerWithoutALeaderIsMarkedLeaderless) {
  struct Case {
    const char* reply;
    bool leaderless;
  };
  const Case streams[] = {
      {R"({"config":{"name":"S"},"state":{},"cluster":{"name":"c","leader":"n1"}})", false},
      {R"({"config":{"name":"S"},"state":{},"cluster":{"name":"c","replicas":[]}})", true},
      {R"({"config":{"name":"S"},"state":{},"cluster":{"name":"c","leader":""}})", true},
      {R"({"config":{"name":"S"},"state":{}})", false},                  // (not clustered)
      {R"({"config":{"name":"S","num_replicas":3},"state":{}})", true},  // (R3, no cluster)
      {R"({"config":{"name":"S","num_replicas":1},"state":{}})", false},
  };
  for (const auto& c : streams) {
    auto si = parseStreamInfo(json::parse(c.reply));
    ASSERT_TRUE(si.ok()) << c.reply;
    EXPECT_EQ(si->leaderless, c.leaderless) << c.reply;
  }
  const Case consumers[] = {
      {R"({"name":"w","num_pending":5,"cluster":{"leader":"n2"}})", false},
      {R"({"name":"w","num_pending":0,"cluster":{"name":"c"}})", true},
      {R"({"name":"w","num_pending":5})", false},  // (a single server sends no cluster)
      {R"({"name":"w","num_pending":0,"config":{"num_replicas":3}})", true},
      {R"({"name":"w","num_pending":5,"config":{"num_replicas":3},"cluster":{"leader":"n1"}})",
       false},
  };
  for (const auto& c : consumers) {
    auto ci = parseConsumerInfo(json::parse(c.reply));
    ASSERT_TRUE(ci.ok()) << c.reply;
    EXPECT_EQ(ci->leaderless, c.leaderless) << c.reply;
  }
}

// Figures are only taken from a leader's answer: a leaderless one is an Unavailable error that
// names what had no leader; other answers and errors pass as they are.
TEST(JetStreamJson, RequireLeaderTurnsALeaderlessAnswerIntoUnavailable) {
  ConsumerInfo ci;
  ci.stream = "S";
  ci.name = "w";
  ci.leaderless = true;
  auto refused = requireLeader(Result<ConsumerInfo>(ci));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Error::Code::kUnavailable);
  EXPECT_NE(refused.error().message.find("consumer S/w"), std::string::npos)
      << refused.error().message;
  ci.leaderless = false;
  EXPECT_TRUE(requireLeader(Result<ConsumerInfo>(ci)).ok());
  StreamInfo si;
  si.config.name = "S";
  si.leaderless = true;
  EXPECT_EQ(requireLeader(Result<StreamInfo>(si)).error().code, Error::Code::kUnavailable);
  auto timeout = requireLeader(Result<StreamInfo>(makeError(Error::Code::kTimeout, "slow")));
  EXPECT_EQ(timeout.error().message, "slow");
}

// A consumer once answered by a named leader is replicated: a later answer naming none is not
// its leader's (a single server's consumers never name one, so they stay usable).
TEST(LeaderMemory, AConsumerOnceLedIsLeaderlessWithoutALeader) {
  struct Step {
    const char* consumer;
    const char* leader;  // in the answer
    bool leaderless;     // as the memory marks it
    const char* why;
  };
  const Step steps[] = {
      {"solo", "", false, "never led: a single server's consumer"},
      {"w", "n1", false, "led"},
      {"w", "", true, "led before, no leader now"},
      {"other", "", false, "per consumer"},
      {"w", "n2", false, "a leader again"},
  };
  LeaderMemory memory;
  for (const auto& step : steps) {
    ConsumerInfo info;
    info.stream = "S";
    info.name = step.consumer;
    info.leader = step.leader;
    memory.check(info);
    EXPECT_EQ(info.leaderless, step.leaderless) << step.why;
  }
}

}  // namespace
}  // namespace osmosis::nats
