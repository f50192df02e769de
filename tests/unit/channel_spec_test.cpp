// The Channel spec parser: defaults, and a clear problem for every value a schema cannot catch
// (or that slipped past one).

#include <gtest/gtest.h>

#include "operator/api/spec.hpp"

namespace osmosis::api {
namespace {

using nlohmann::json;

json channel(json spec) {
  return {{"apiVersion", "osmosis.dev/v1alpha1"},
          {"kind", "Channel"},
          {"metadata", {{"namespace", "shop"}, {"name", "orders"}, {"generation", 1}}},
          {"spec", std::move(spec)}};
}

// The problems' fields, for compact assertions.
std::vector<std::string> fields(const ParsedChannel& p) {
  std::vector<std::string> out;
  for (const auto& pr : p.problems)
    out.push_back(pr.field);
  return out;
}

TEST(ChannelSpec, EmptySpecGetsTheDocumentedDefaults) {
  ParsedChannel p = parseChannel(channel(json::object()));
  ASSERT_TRUE(p.problems.empty()) << describe(p.problems);
  const ChannelSpec& s = p.spec;
  EXPECT_EQ(s.subjects, std::vector<std::string>{"shop.orders.>"});
  EXPECT_EQ(s.stream.name, "SHOP_ORDERS");
  EXPECT_EQ(s.stream.subjects, s.subjects);
  EXPECT_EQ(s.stream.retention, nats::Retention::kWorkQueue);
  EXPECT_EQ(s.stream.storage, nats::Storage::kFile);
  EXPECT_EQ(s.stream.replicas, 1);
  EXPECT_EQ(s.stream.maxAge.count(), 0);
  EXPECT_EQ(s.stream.duplicateWindow, std::chrono::minutes(2));
  EXPECT_EQ(s.consumer.durable, "workers");
  EXPECT_EQ(s.consumer.ackWait, std::chrono::seconds(30));
  EXPECT_EQ(s.consumer.maxDeliver, 5);
  EXPECT_EQ(s.consumer.maxAckPending, 1000);
  EXPECT_FALSE(s.deleteStreamOnDelete);
  EXPECT_TRUE(s.natsSecret.empty());
  EXPECT_FALSE(s.scaleTarget.has_value());
  EXPECT_EQ(s.scaling.minReplicas, 0);
  EXPECT_EQ(s.scaling.maxReplicas, 10);
  EXPECT_EQ(s.gateway, GatewaySpec{}) << "the gateway is off unless asked for";
  EXPECT_FALSE(s.gateway.enabled);
  EXPECT_TRUE(s.gateway.publishersSecret.empty());
  EXPECT_EQ(s.gateway.maxBacklog, 10000);
  EXPECT_EQ(s.gateway.resultsMaxAge, std::chrono::minutes(10));
}

TEST(ChannelSpec, FullSpecIsRead) {
  ParsedChannel p = parseChannel(channel({
      {"subjects", {"orders.created", "orders.paid.*"}},
      {"stream",
       {{"retention", "Limits"},
        {"storage", "Memory"},
        {"replicas", 3},
        {"maxAge", "24h"},
        {"maxBytes", 1048576},
        {"maxMsgs", 1000},
        {"maxMsgSize", 4096},
        {"discard", "New"},
        {"duplicateWindow", "1m"}}},
      {"consumer",
       {{"ackWait", "1m"},
        {"maxDeliver", 10},
        {"maxAckPending", 50},
        {"backoff", {"1s", "5s", "30s"}},
        {"deadLetterSubject", "dead.orders"}}},
      {"deletionPolicy", "Delete"},
      {"nats", {{"secretRef", {{"name", "nats-creds"}}}}},
      {"worker",
       {{"scaleTargetRef", {{"name", "orders-worker"}}},
        {"injectSidecar", true},
        {"app", {{"port", 9000}, {"path", "/orders"}}}}},
      {"scaling",
       {{"minReplicas", 1},
        {"maxReplicas", 20},
        {"targetBacklogPerReplica", 50},
        {"scaleDown", {{"stabilizationSeconds", 30}, {"maxStepPercent", 25}}}}},
      {"gateway",
       {{"enabled", true},
        {"publishers", {{"secretRef", {{"name", "orders-publishers"}}}}},
        {"maxBacklog", 0},
        {"resultsMaxAge", "1h30m"}}},
  }));
  ASSERT_TRUE(p.problems.empty()) << describe(p.problems);
  const ChannelSpec& s = p.spec;
  EXPECT_EQ(s.subjects, (std::vector<std::string>{"orders.created", "orders.paid.*"}));
  EXPECT_EQ(s.stream.retention, nats::Retention::kLimits);
  EXPECT_EQ(s.stream.storage, nats::Storage::kMemory);
  EXPECT_EQ(s.stream.replicas, 3);
  EXPECT_EQ(s.stream.maxAge, std::chrono::hours(24));
  EXPECT_EQ(s.stream.maxBytes, 1048576);
  EXPECT_EQ(s.stream.maxMsgs, 1000);
  EXPECT_EQ(s.stream.maxMsgSize, 4096);
  EXPECT_EQ(s.stream.discard, nats::Discard::kNew);
  EXPECT_EQ(s.stream.duplicateWindow, std::chrono::minutes(1));
  EXPECT_EQ(s.consumer.ackWait, std::chrono::minutes(1));
  EXPECT_EQ(s.consumer.maxDeliver, 10);
  EXPECT_EQ(s.consumer.maxAckPending, 50);
  ASSERT_EQ(s.consumer.backoff.size(), 3u);
  EXPECT_EQ(s.consumer.backoff[2], std::chrono::seconds(30));
  EXPECT_EQ(s.deadLetterSubject, "dead.orders");
  EXPECT_TRUE(s.deleteStreamOnDelete);
  EXPECT_EQ(s.natsSecret, "nats-creds");
  ASSERT_TRUE(s.scaleTarget.has_value());
  EXPECT_EQ(s.scaleTarget->kind, "Deployment");
  EXPECT_EQ(s.scaleTarget->apiVersion, "apps/v1");
  EXPECT_EQ(s.scaleTarget->name, "orders-worker");
  EXPECT_TRUE(s.injectSidecar);
  EXPECT_EQ(s.appPort, 9000);
  EXPECT_EQ(s.appPath, "/orders");
  EXPECT_EQ(s.scaling.minReplicas, 1);
  EXPECT_EQ(s.scaling.maxReplicas, 20);
  EXPECT_EQ(s.scaling.targetBacklogPerReplica, 50);
  EXPECT_EQ(s.scaling.stabilizationSeconds, 30);
  EXPECT_EQ(s.scaling.maxStepPercent, 25);
  EXPECT_TRUE(s.gateway.enabled);
  EXPECT_EQ(s.gateway.publishersSecret, "orders-publishers");
  EXPECT_EQ(s.gateway.maxBacklog, 0) << "0: no limit";
  EXPECT_EQ(s.gateway.resultsMaxAge, std::chrono::minutes(90));
}

TEST(ChannelSpec, GatewayBoundsAreInclusiveAndCheckedWhileDisabled) {
  for (const char* age : {"1s", "168h", "10m"}) {
    ParsedChannel p = parseChannel(channel({{"gateway", {{"resultsMaxAge", age}}}}));
    EXPECT_TRUE(p.problems.empty()) << age << ": " << describe(p.problems);
  }
  ParsedChannel p = parseChannel(channel({{"gateway", {{"enabled", false}, {"maxBacklog", -1}}}}));
  ASSERT_EQ(fields(p), std::vector<std::string>{"spec.gateway.maxBacklog"}) << describe(p.problems);
  EXPECT_FALSE(p.spec.gateway.enabled);
  // Publishers without a Secret is fine: anyone who reaches the gateway may publish.
  p = parseChannel(channel({{"gateway", {{"enabled", true}, {"publishers", json::object()}}}}));
  EXPECT_TRUE(p.problems.empty()) << describe(p.problems);
  EXPECT_TRUE(p.spec.gateway.publishersSecret.empty());
}

struct InvalidCase {
  const char* name;
  json spec;
  const char* field;  // the field the problem must name
};

void PrintTo(const InvalidCase& c, std::ostream* os) {
  *os << c.name;
}

class ChannelSpecInvalid : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(ChannelSpecInvalid, NamesTheField) {
  ParsedChannel p = parseChannel(channel(GetParam().spec));
  ASSERT_FALSE(p.problems.empty()) << GetParam().name;
  auto f = fields(p);
  EXPECT_NE(std::find(f.begin(), f.end(), GetParam().field), f.end())
      << GetParam().name << ": " << describe(p.problems);
  EXPECT_NE(describe(p.problems).find(GetParam().field), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, ChannelSpecInvalid,
    ::testing::Values(
        InvalidCase{"EmptySubjectList", {{"subjects", json::array()}}, "spec.subjects"},
        InvalidCase{"SubjectsNotAList", {{"subjects", "a.b"}}, "spec.subjects"},
        InvalidCase{"SubjectNotAString", {{"subjects", {1}}}, "spec.subjects[0]"},
        InvalidCase{"EmptyToken", {{"subjects", {"a..b"}}}, "spec.subjects[0]"},
        InvalidCase{"TrailingDot", {{"subjects", {"a.b."}}}, "spec.subjects[0]"},
        InvalidCase{"Whitespace", {{"subjects", {"a b"}}}, "spec.subjects[0]"},
        InvalidCase{"PartialWildcard", {{"subjects", {"a.b*"}}}, "spec.subjects[0]"},
        InvalidCase{"GtNotLast", {{"subjects", {"a.>.b"}}}, "spec.subjects[0]"},
        InvalidCase{"OverlapInList", {{"subjects", {"a.*", "a.b"}}}, "spec.subjects[1]"},
        // Hostile input (issue 16): JSON injection (item 1), overflowing durations (item 5), a
        // path that splits the request line (item 18). Reserved and foreign subjects (items 2
        // and 17) are the subject policy's: see channel_subjects_test.cpp.
        InvalidCase{
            "SubjectBreaksOutOfJson",
            {{"subjects", {R"(inj3.a"],"sources":[{"name":"VICTIM3_DATA"}],"subjects":["inj3.a)"}}},
            "spec.subjects[0]"},
        InvalidCase{"SubjectNonAscii", {{"subjects", {"caf\xc3\xa9.x"}}}, "spec.subjects[0]"},
        InvalidCase{"TooManySubjects",
                    {{"subjects", json(std::vector<std::string>(33, "a"))}},
                    "spec.subjects"},
        InvalidCase{
            "MaxAgeOverflows", {{"stream", {{"maxAge", "2562047.9h"}}}}, "spec.stream.maxAge"},
        InvalidCase{"MaxAgeOverBound", {{"stream", {{"maxAge", "900000h"}}}}, "spec.stream.maxAge"},
        InvalidCase{"DuplicateWindowOverflows",
                    {{"stream", {{"duplicateWindow", "2562047.9h"}}}},
                    "spec.stream.duplicateWindow"},
        InvalidCase{"AckWaitOverflows",
                    {{"consumer", {{"ackWait", "2562047.9h"}}}},
                    "spec.consumer.ackWait"},
        InvalidCase{
            "AckWaitOverBound", {{"consumer", {{"ackWait", "25h"}}}}, "spec.consumer.ackWait"},
        InvalidCase{"BackoffOverflows",
                    {{"consumer", {{"backoff", {"1s", "2562047.9h"}}}}},
                    "spec.consumer.backoff[1]"},
        InvalidCase{"AppPathSplitsTheRequestLine",
                    {{"worker", {{"app", {{"path", "/x y\r\nHost: evil"}}}}}},
                    "spec.worker.app.path"},
        InvalidCase{"DeadLetterBreaksOutOfJson",
                    {{"consumer", {{"deadLetterSubject", "dead\",\"x"}}}},
                    "spec.consumer.deadLetterSubject"},
        InvalidCase{
            "BadRetention", {{"stream", {{"retention", "Forever"}}}}, "spec.stream.retention"},
        InvalidCase{"BadStorage", {{"stream", {{"storage", "Disk"}}}}, "spec.stream.storage"},
        InvalidCase{"ReplicasZero", {{"stream", {{"replicas", 0}}}}, "spec.stream.replicas"},
        InvalidCase{"ReplicasSix", {{"stream", {{"replicas", 6}}}}, "spec.stream.replicas"},
        InvalidCase{"ReplicasString", {{"stream", {{"replicas", "3"}}}}, "spec.stream.replicas"},
        InvalidCase{"BadMaxAge", {{"stream", {{"maxAge", "a day"}}}}, "spec.stream.maxAge"},
        InvalidCase{"NegativeMaxBytes", {{"stream", {{"maxBytes", -5}}}}, "spec.stream.maxBytes"},
        InvalidCase{
            "HugeMaxMsgSize", {{"stream", {{"maxMsgSize", 1 << 30}}}}, "spec.stream.maxMsgSize"},
        InvalidCase{"DuplicateWindowOverMaxAge",
                    {{"stream", {{"maxAge", "1m"}, {"duplicateWindow", "2m"}}}},
                    "spec.stream.duplicateWindow"},
        InvalidCase{"ZeroAckWait", {{"consumer", {{"ackWait", "0s"}}}}, "spec.consumer.ackWait"},
        InvalidCase{
            "MaxDeliverZero", {{"consumer", {{"maxDeliver", 0}}}}, "spec.consumer.maxDeliver"},
        InvalidCase{"MaxAckPendingZero",
                    {{"consumer", {{"maxAckPending", 0}}}},
                    "spec.consumer.maxAckPending"},
        InvalidCase{
            "BackoffNotAList", {{"consumer", {{"backoff", "1s"}}}}, "spec.consumer.backoff"},
        InvalidCase{"BackoffBadEntry",
                    {{"consumer", {{"backoff", {"1s", "soon"}}}}},
                    "spec.consumer.backoff[1]"},
        InvalidCase{"BackoffTooLong",
                    {{"consumer", {{"maxDeliver", 2}, {"backoff", {"1s", "2s"}}}}},
                    "spec.consumer.backoff"},
        InvalidCase{"DeadLetterWildcard",
                    {{"consumer", {{"deadLetterSubject", "dead.*"}}}},
                    "spec.consumer.deadLetterSubject"},
        InvalidCase{
            "DeadLetterCaptured",
            {{"subjects", {"orders.>"}}, {"consumer", {{"deadLetterSubject", "orders.dead"}}}},
            "spec.consumer.deadLetterSubject"},
        InvalidCase{"BadDeletionPolicy", {{"deletionPolicy", "Orphan"}}, "spec.deletionPolicy"},
        InvalidCase{"SecretRefWithoutName",
                    {{"nats", {{"secretRef", json::object()}}}},
                    "spec.nats.secretRef.name"},
        InvalidCase{"ScaleTargetWithoutName",
                    {{"worker", {{"scaleTargetRef", json::object()}}}},
                    "spec.worker.scaleTargetRef.name"},
        InvalidCase{"InjectWithoutTarget",
                    {{"worker", {{"injectSidecar", true}}}},
                    "spec.worker.injectSidecar"},
        InvalidCase{
            "InjectNotBool", {{"worker", {{"injectSidecar", "yes"}}}}, "spec.worker.injectSidecar"},
        InvalidCase{"AppPortZero", {{"worker", {{"app", {{"port", 0}}}}}}, "spec.worker.app.port"},
        InvalidCase{"AppPathRelative",
                    {{"worker", {{"app", {{"path", "orders"}}}}}},
                    "spec.worker.app.path"},
        InvalidCase{"MinOverMax",
                    {{"scaling", {{"minReplicas", 5}, {"maxReplicas", 2}}}},
                    "spec.scaling.minReplicas"},
        InvalidCase{"MaxZero", {{"scaling", {{"maxReplicas", 0}}}}, "spec.scaling.maxReplicas"},
        InvalidCase{"TargetBacklogZero",
                    {{"scaling", {{"targetBacklogPerReplica", 0}}}},
                    "spec.scaling.targetBacklogPerReplica"},
        InvalidCase{"StepOver100",
                    {{"scaling", {{"scaleDown", {{"maxStepPercent", 150}}}}}},
                    "spec.scaling.scaleDown.maxStepPercent"},
        InvalidCase{"ScalingNotAnObject", {{"scaling", "fast"}}, "spec.scaling"},
        InvalidCase{"GatewayNotAnObject", {{"gateway", "on"}}, "spec.gateway"},
        InvalidCase{
            "GatewayEnabledNotBool", {{"gateway", {{"enabled", "yes"}}}}, "spec.gateway.enabled"},
        InvalidCase{"PublishersNotAnObject",
                    {{"gateway", {{"publishers", "everyone"}}}},
                    "spec.gateway.publishers"},
        InvalidCase{"PublishersSecretWithoutName",
                    {{"gateway", {{"publishers", {{"secretRef", json::object()}}}}}},
                    "spec.gateway.publishers.secretRef.name"},
        InvalidCase{"PublishersSecretNameNotAString",
                    {{"gateway", {{"publishers", {{"secretRef", {{"name", 7}}}}}}}},
                    "spec.gateway.publishers.secretRef.name"},
        InvalidCase{
            "NegativeMaxBacklog", {{"gateway", {{"maxBacklog", -1}}}}, "spec.gateway.maxBacklog"},
        InvalidCase{
            "MaxBacklogString", {{"gateway", {{"maxBacklog", "10k"}}}}, "spec.gateway.maxBacklog"},
        InvalidCase{"ResultsMaxAgeZero",
                    {{"gateway", {{"resultsMaxAge", "0"}}}},
                    "spec.gateway.resultsMaxAge"},
        InvalidCase{"ResultsMaxAgeUnderOneSecond",
                    {{"gateway", {{"resultsMaxAge", "999ms"}}}},
                    "spec.gateway.resultsMaxAge"},
        InvalidCase{"ResultsMaxAgeOverSevenDays",
                    {{"gateway", {{"resultsMaxAge", "168h1s"}}}},
                    "spec.gateway.resultsMaxAge"},
        InvalidCase{"ResultsMaxAgeInDays",
                    {{"gateway", {{"resultsMaxAge", "7d"}}}},
                    "spec.gateway.resultsMaxAge"},
        InvalidCase{"ResultsMaxAgeOverflows",
                    {{"gateway", {{"resultsMaxAge", "2562047.9h"}}}},
                    "spec.gateway.resultsMaxAge"}),
    [](const auto& tc) { return std::string(tc.param.name); });

TEST(ChannelSpec, EveryProblemIsReportedNotJustTheFirst) {
  ParsedChannel p = parseChannel(channel(
      {{"stream", {{"replicas", 0}, {"storage", "Tape"}}}, {"consumer", {{"ackWait", "x"}}}}));
  EXPECT_EQ(p.problems.size(), 3u) << describe(p.problems);
}

TEST(ChannelSpec, MissingMetadataIsAProblemNotACrash) {
  ParsedChannel p = parseChannel(json{{"spec", json::object()}});
  EXPECT_FALSE(p.problems.empty());
  p = parseChannel(json::object());
  EXPECT_FALSE(p.problems.empty());
}

TEST(ChannelSpec, DuplicateSubjectsAreReportedAsOverlap) {
  ParsedChannel p = parseChannel(channel({{"subjects", {"a.b", "a.b"}}}));
  EXPECT_FALSE(p.problems.empty());
}

}  // namespace
}  // namespace osmosis::api
