// The pure pieces of the autoscaler's I/O side: taking in sidecar reports, the Channel's
// settings as a Policy, Event words, status fields, and spotting an HPA on the same target.

#include <gtest/gtest.h>

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

TEST(ReportInbox, KeepsTheLatestReportOfEachPod) {
  ReportInbox inbox("shop", "orders");
  TimePoint t0{};
  EXPECT_FALSE(inbox.takeDirty());
  ASSERT_TRUE(inbox.offer(report::toJson(sample("a")), t0 + 1s));
  auto b = sample("b");
  b.inFlight = 2;
  ASSERT_TRUE(inbox.offer(report::toJson(b), t0 + 2s));
  b.inFlight = 5;
  ASSERT_TRUE(inbox.offer(report::toJson(b), t0 + 3s));
  EXPECT_TRUE(inbox.takeDirty());
  EXPECT_FALSE(inbox.takeDirty()) << "dirty is taken once";
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

TEST(ReportInbox, DropsMalformedAndForeignReports) {
  ReportInbox inbox("shop", "orders");
  EXPECT_FALSE(inbox.offer("not json", TimePoint{}));
  EXPECT_FALSE(inbox.offer(R"({"schemaVersion":99})", TimePoint{}));
  auto other = sample("x");
  other.channel = "payments";
  EXPECT_FALSE(inbox.offer(report::toJson(other), TimePoint{}));
  auto stats = inbox.stats();
  EXPECT_EQ(stats.malformed, 2u);
  EXPECT_EQ(stats.mismatched, 1u);
  EXPECT_NE(stats.lastProblem.find("payments"), std::string::npos);
  EXPECT_TRUE(inbox.snapshot(TimePoint{}, 30s).empty());
  EXPECT_FALSE(inbox.takeDirty());
}

TEST(ReportInbox, AFinalReportRemovesThePodAndSilentPodsAreForgotten) {
  ReportInbox inbox("shop", "orders");
  TimePoint t0{};
  inbox.offer(report::toJson(sample("a")), t0);
  inbox.offer(report::toJson(sample("b")), t0 + 20s);
  auto fin = sample("a");
  fin.final = true;
  fin.inFlight = 0;
  inbox.offer(report::toJson(fin), t0 + 21s);
  auto snap = inbox.snapshot(t0 + 21s, 30s);
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].pod, "b");
  EXPECT_TRUE(inbox.snapshot(t0 + 51s, 30s).empty()) << "b silent for 31 s";
}

TEST(ReportInbox, AReportWithoutFiguresHasNoConsumerCounts) {
  ReportInbox inbox("shop", "orders");
  auto r = sample("a");
  r.figures.reset();
  r.ready = false;
  r.error = "consumer not found";
  ASSERT_TRUE(inbox.offer(report::toJson(r), TimePoint{}));
  EXPECT_FALSE(inbox.snapshot(TimePoint{}, 30s)[0].consumer.has_value());
}

TEST(ScalingStatus, PolicyTakesTheChannelsFieldsAndTheOperatorsRest) {
  channel::ScalingSpec s;
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
  channel::ScaleTargetRef t{"apps/v1", "Deployment", "worker"};
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

}  // namespace
}  // namespace osmosis::autoscaler
