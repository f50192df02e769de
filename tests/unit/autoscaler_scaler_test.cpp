// The pure pieces of the autoscaler's I/O side: taking in sidecar reports, the Channel's
// settings as a Policy, Event words, status fields, and spotting an HPA on the same target.

#include <optional>

#include <gtest/gtest.h>

#include "common/report/report.hpp"
#include "operator/autoscaler/report_inbox.hpp"
#include "operator/autoscaler/scaling_status.hpp"

namespace osmosis::autoscaler {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

report::Report sample(const std::string& pod) {
  report::Report r;
  r.namespace_ = "shop";
  r.channel = "orders";
  r.pod = pod;
  r.mode = "dispatch";
  r.stream = "SHOP_ORDERS";
  r.consumer = "workers";
  r.figures = report::ConsumerFigures{500, 60, 3};
  r.processed = 1234;
  r.rate = 48.5;
  r.busyFraction = 0.98;
  r.inFlight = 8;
  r.concurrency = 8;
  r.ready = true;
  r.sequence = 17;
  r.time = std::chrono::system_clock::now();
  r.version = "test";
  return r;
}

// Offers `r` as received at `at`, its own time being the operator's wall clock now.
bool offer(ReportInbox& inbox, const report::Report& r, TimePoint at) {
  return inbox.offer(report::toJson(r), at, r.time);
}

TEST(ReportInbox, KeepsTheLatestReportOfEachPod) {
  ReportInbox inbox("shop", "orders");
  inbox.setLivePods({"a", "b"});
  TimePoint t0{};
  EXPECT_FALSE(inbox.takeMoved());
  ASSERT_TRUE(offer(inbox, sample("a"), t0 + 1s));
  auto b = sample("b");
  b.inFlight = 2;
  ASSERT_TRUE(offer(inbox, b, t0 + 2s));
  b.inFlight = 5;
  b.sequence++;
  ASSERT_TRUE(offer(inbox, b, t0 + 3s));
  EXPECT_TRUE(inbox.takeMoved()) << "new pods";
  EXPECT_FALSE(inbox.takeMoved()) << "taken once";
  auto snap = inbox.snapshot(t0 + 3s, 30s);
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].pod, "a");
  EXPECT_EQ(snap[0].consumer->pending, 500u);
  EXPECT_EQ(snap[0].consumer->ackPending, 60);
  EXPECT_EQ(snap[0].processed, 1234u);
  EXPECT_DOUBLE_EQ(snap[0].busyFraction, 0.98);
  EXPECT_EQ(snap[1].inFlight, 5);
  EXPECT_EQ(snap[1].receivedAt, t0 + 3s);
  EXPECT_EQ(inbox.lastArrival(), t0 + 3s);
}

// Which reports are worth evaluating the Channel at once (takeMoved); the rest wait for the
// tick. The pod's previous report had pending 500 + ack pending 60 = 560.
TEST(ReportInbox, OnlyReportsThatMoveTheBacklogAskForALookAtOnce) {
  struct Case {
    const char* what;
    std::optional<report::ConsumerFigures> figures;
    int64_t inFlight;
    bool final;
    bool moved;
  };
  const Case cases[] = {
      {"the same figures", report::ConsumerFigures{500, 60, 3}, 8, false, false},
      {"a small move", report::ConsumerFigures{560, 60, 3}, 8, false, false},
      {"in flight changed only", report::ConsumerFigures{500, 60, 3}, 0, false, false},
      {"40% up", report::ConsumerFigures{724, 60, 3}, 8, false, false},
      {"50% up", report::ConsumerFigures{780, 60, 3}, 8, false, true},
      {"drained to zero", report::ConsumerFigures{0, 0, 3}, 8, false, true},
      {"figures gone (the sidecar could not read)", std::nullopt, 8, false, true},
      {"final", report::ConsumerFigures{500, 60, 3}, 0, true, true},
  };
  for (const auto& c : cases) {
    ReportInbox inbox("shop", "orders");
    inbox.setLivePods({"a"});
    auto r = sample("a");
    ASSERT_TRUE(offer(inbox, r, TimePoint{}));
    ASSERT_TRUE(inbox.takeMoved()) << "a pod's first report";
    r.sequence++;
    r.figures = c.figures;
    r.inFlight = c.inFlight;
    r.final = c.final;
    ASSERT_TRUE(offer(inbox, r, TimePoint{} + 1s)) << c.what;
    EXPECT_EQ(inbox.takeMoved(), c.moved) << c.what;
  }
}

TEST(ReportInbox, DropsMalformedAndForeignReports) {
  ReportInbox inbox("shop", "orders");
  inbox.setLivePods({"x"});
  const auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(inbox.offer("not json", TimePoint{}, now));
  EXPECT_FALSE(inbox.offer(R"({"schemaVersion":99})", TimePoint{}, now));
  auto other = sample("x");
  other.channel = "payments";
  EXPECT_FALSE(offer(inbox, other, TimePoint{}));
  auto stats = inbox.stats();
  EXPECT_EQ(stats.malformed, 2u);
  EXPECT_EQ(stats.mismatched, 1u);
  EXPECT_NE(stats.lastProblem.find("payments"), std::string::npos);
  EXPECT_TRUE(inbox.snapshot(TimePoint{}, 30s).empty());
  EXPECT_FALSE(inbox.takeMoved());
}

TEST(ReportInbox, AFinalReportRemovesThePodAndSilentPodsAreForgotten) {
  ReportInbox inbox("shop", "orders");
  inbox.setLivePods({"a", "b"});
  TimePoint t0{};
  offer(inbox, sample("a"), t0);
  offer(inbox, sample("b"), t0 + 20s);
  auto fin = sample("a");
  fin.final = true;
  fin.inFlight = 0;
  fin.sequence++;
  offer(inbox, fin, t0 + 21s);
  auto snap = inbox.snapshot(t0 + 21s, 30s);
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].pod, "b");
  EXPECT_TRUE(inbox.snapshot(t0 + 51s, 30s).empty()) << "b silent for 31 s";
}

TEST(ReportInbox, AReportWithoutFiguresHasNoConsumerCounts) {
  ReportInbox inbox("shop", "orders");
  inbox.setLivePods({"a"});
  auto r = sample("a");
  r.figures.reset();
  r.ready = false;
  r.error = "consumer not found";
  ASSERT_TRUE(offer(inbox, r, TimePoint{}));
  EXPECT_FALSE(inbox.snapshot(TimePoint{}, 30s)[0].consumer.has_value());
}

// Hostile input (issue 16, item 12): only the target's live pods may report. A name the last
// listing did not have is held (bounded) until the next listing decides.
TEST(ReportInbox, OnlyLivePodsReportAndUnknownOnesWaitForTheNextListing) {
  InboxLimits limits;
  limits.maxHeld = 4;
  ReportInbox inbox("shop", "orders", limits);
  EXPECT_FALSE(offer(inbox, sample("new-pod"), TimePoint{})) << "no listing yet";
  EXPECT_TRUE(inbox.unknownPodsWaiting());
  for (int i = 0; i < 1000; ++i)
    offer(inbox, sample("fake-" + std::to_string(i)), TimePoint{});
  EXPECT_EQ(inbox.stats().unknownPod, 1001u);
  inbox.setLivePods({"new-pod", "other"});
  EXPECT_FALSE(inbox.unknownPodsWaiting());
  auto snap = inbox.snapshot(TimePoint{}, 30s);
  ASSERT_EQ(snap.size(), 1u) << "the held report of the live pod is taken; the fakes dropped";
  EXPECT_EQ(snap[0].pod, "new-pod");
  EXPECT_FALSE(offer(inbox, sample("fake-1"), TimePoint{}));
  // A pod that went is forgotten at the next listing.
  inbox.setLivePods({"other"});
  EXPECT_TRUE(inbox.snapshot(TimePoint{}, 30s).empty());
}

// Hostile input (issue 16, items 3 and 19): reports are current and in order.
TEST(ReportInbox, DropsStaleFutureAndReplayedReports) {
  ReportInbox inbox("shop", "orders");
  inbox.setLivePods({"a"});
  const auto now = std::chrono::system_clock::now();
  auto r = sample("a");
  r.time = now - 1h;
  EXPECT_FALSE(inbox.offer(report::toJson(r), TimePoint{}, now));
  r.time = now + 1h;
  EXPECT_FALSE(inbox.offer(report::toJson(r), TimePoint{}, now));
  EXPECT_EQ(inbox.stats().stale, 2u);
  r.time = now;
  r.sequence = 10;
  EXPECT_TRUE(inbox.offer(report::toJson(r), TimePoint{}, now));
  EXPECT_FALSE(inbox.offer(report::toJson(r), TimePoint{}, now)) << "the same report again";
  r.sequence = 9;
  EXPECT_FALSE(inbox.offer(report::toJson(r), TimePoint{}, now)) << "an older one, late";
  EXPECT_EQ(inbox.stats().outOfOrder, 2u);
  r.sequence = 1;  // the sidecar restarted: counts from 1, with a later clock
  r.time = now + 2s;
  EXPECT_TRUE(inbox.offer(report::toJson(r), TimePoint{}, now));
  for (
      const char* hostile :
      {R"({"schemaVersion":1,"namespace":"shop","channel":"orders","pod":"a","version":"1","processed":0,"failed":0,"inFlight":0,"rate":0,"sequence":99,"time":"9999-12-31T23:59:59.999Z"})",
       R"({"schemaVersion":1,"namespace":"shop","channel":"orders","pod":"a","version":"1","processed":0,"failed":0,"inFlight":0,"rate":0,"sequence":99,"time":"0001-01-01T00:00:00.000Z"})"}) {
    EXPECT_FALSE(inbox.offer(hostile, TimePoint{}, now));
  }
  EXPECT_EQ(inbox.stats().malformed, 2u);
}

TEST(ScalingStatus, PolicyTakesTheChannelsFieldsAndTheOperatorsRest) {
  api::ScalingSpec s;
  s.minReplicas = 1;
  s.maxReplicas = 7;
  s.targetBacklogPerReplica = 30;
  s.targetDrainSeconds = 5;
  s.activationBacklog = 3;
  s.stabilizationSeconds = 10;
  s.maxStepPercent = 20;
  s.scaleToZeroAfterSeconds = 40;
  Policy op;
  op.headroom = 1.5;
  op.scaleUpMaxStep = 2;
  op.scaleDownStepSeconds = 4;
  Policy p = policyFrom(s, op);
  EXPECT_EQ(p.minReplicas, 1);
  EXPECT_EQ(p.maxReplicas, 7);
  EXPECT_EQ(p.targetBacklogPerReplica, 30);
  EXPECT_EQ(p.targetDrainSeconds, 5);
  EXPECT_EQ(p.activationBacklog, 3);
  EXPECT_EQ(p.stabilizationSeconds, 10);
  EXPECT_EQ(p.maxStepPercent, 20);
  EXPECT_EQ(p.scaleToZeroAfterSeconds, 40);
  EXPECT_DOUBLE_EQ(p.headroom, 1.5);
  EXPECT_EQ(p.scaleUpMaxStep, 2);
  EXPECT_EQ(p.scaleDownStepSeconds, 4);
  EXPECT_TRUE(validate(p).ok());
}

TEST(ScalingStatus, EventMessageNamesTargetChangeAndReason) {
  Decision d;
  d.reason = "backlog 560 (pending 500, in flight 60) > 2 x 100/replica";
  EXPECT_EQ(eventMessage("orders-worker", 2, 6, d),
            "orders-worker 2 -> 6: backlog 560 (pending 500, in flight 60) > 2 x 100/replica");
}

TEST(ScalingStatus, ConflictingHpa) {
  api::ScaleTargetRef t{"apps/v1", "Deployment", "worker"};
  auto hpa = [](const std::string& name, const std::string& apiVersion, const std::string& kind,
                const std::string& target) {
    return json{
        {"metadata", {{"name", name}}},
        {"spec",
         {{"scaleTargetRef", {{"apiVersion", apiVersion}, {"kind", kind}, {"name", target}}}}}};
  };
  EXPECT_FALSE(conflictingHpa(json(), t).has_value());
  EXPECT_FALSE(conflictingHpa(json{{"items", json::array()}}, t).has_value());
  EXPECT_FALSE(conflictingHpa(json{{"items", {hpa("a", "apps/v1", "Deployment", "other")}}}, t));
  EXPECT_FALSE(conflictingHpa(json{{"items", {hpa("a", "apps/v1", "StatefulSet", "worker")}}}, t));
  EXPECT_FALSE(
      conflictingHpa(json{{"items", {hpa("a", "example.com/v1", "Deployment", "worker")}}}, t));
  EXPECT_EQ(conflictingHpa(json{{"items",
                                 {hpa("a", "apps/v1", "Deployment", "other"),
                                  hpa("cpu", "apps/v1", "Deployment", "worker")}}},
                           t)
                .value_or(""),
            "cpu");
}

TEST(ScalingStatus, ReplicasStatus) {
  EXPECT_EQ(replicasStatus(2, 6), (json{{"current", 2}, {"desired", 6}, {"summary", "2/6"}}));
}

// status.throughput: the learned per-pod rate kept across operator restarts (issue 13).
TEST(ScalingStatus, ThroughputIsWrittenRoundedAndReadBackOnlyWhenWellFormed) {
  const json t = throughputStatus(78.3456, "2026-12-01T10:00:00Z");
  EXPECT_EQ(t, (json{{"perPodRate", 78.3}, {"measuredAt", "2026-12-01T10:00:00Z"}}));
  auto r = rememberedRate(json{{"throughput", t}});
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->perPodRate, 78.3);
  EXPECT_EQ(r->measuredAt, *report::parseTime("2026-12-01T10:00:00.000Z"));
  for (const json& bad : std::vector<json>{
           json::object(),
           json{{"throughput", "fast"}},
           json{{"throughput", {{"perPodRate", "78"}, {"measuredAt", "2026-12-01T10:00:00Z"}}}},
           json{{"throughput", {{"perPodRate", -1}, {"measuredAt", "2026-12-01T10:00:00Z"}}}},
           json{{"throughput", {{"perPodRate", 0}, {"measuredAt", "2026-12-01T10:00:00Z"}}}},
           json{{"throughput", {{"perPodRate", 78}, {"measuredAt", "yesterday"}}}},
           json{{"throughput", {{"perPodRate", 78}}}},
           json(nullptr),
       })
    EXPECT_FALSE(rememberedRate(bad)) << bad.dump();
  // Written again only on a real change (5%) or a measurement 10 minutes newer: the status is
  // not rewritten every second while the rate wobbles.
  const auto at = *report::parseTime("2026-12-01T10:00:00.000Z");
  struct Case {
    double rate;
    std::chrono::seconds later;
    bool write;
  };
  for (const auto& c : std::vector<Case>{{80, 0s, false},
                                         {82.2, 60s, false},  // 78.3 + 3.9: within 5%
                                         {82.2, 600s, true},
                                         {82.3, 1s, true},
                                         {74.3, 1s, true},
                                         {74.4, 1s, false}}) {
    EXPECT_EQ(throughputWorthWriting(t, c.rate, at + c.later, 10min), c.write)
        << c.rate << " " << c.later.count();
  }
  EXPECT_TRUE(throughputWorthWriting(json(), 80, at, 10min));
  // Applied with the other fields, compared like them.
  const api::Condition active{"ScalingActive", "True", "Scaling", "m", 1};
  const json body = scalingStatusApply("shop", "orders", active, json(), json(), json(),
                                       "2026-12-01T10:00:00Z", t);
  EXPECT_EQ(body["status"]["throughput"], t);
  json previous = body["status"];
  EXPECT_TRUE(scalingStatusUnchanged(body, previous));
  previous["throughput"]["perPodRate"] = 60;
  EXPECT_FALSE(scalingStatusUnchanged(body, previous));
}

}  // namespace
}  // namespace osmosis::autoscaler
