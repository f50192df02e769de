// The autoscaler's I/O side, fast: a real ChannelScaler (engine, inbox, target, status) against
// an in-memory NATS and API, with time moved by hand. The same loop on real servers:
// tests/e2e/autoscale_test.cpp.

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/report/report.hpp"
#include "operator/api/parsed_cache.hpp"
#include "operator/autoscaler/channel_scaler.hpp"
#include "operator/kube/api/time_format.hpp"
#include "tests/fakes/fake_api_server.hpp"
#include "tests/fakes/fake_nats.hpp"

namespace osmosis::autoscaler {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeApiServer;
using testing::FakeNats;

class ChannelScalerTest : public ::testing::Test {
 protected:
  ChannelScalerTest()
      : api_(std::make_shared<FakeApiServer>()),
        client_(api_,
                [] {
                  kube::ClientOptions o;
                  o.qps = 0;
                  o.maxRetries = 0;
                  return o;
                }()),
        events_(client_, {}),
        scaler_("shop", "orders",
                ScalerDeps{client_, events_, metrics_, clock_, options_, hpas_, streams_,
                           [this] { ++pokes_; }}) {
    deployment(0);
    nats::StreamConfig s;
    s.name = "SHOP_ORDERS";
    s.subjects = {"shop.orders.>"};
    (void)nats_->addStream(s);
    nats::ConsumerConfig c;
    c.durable = "workers";
    (void)nats_->addOrUpdateConsumer("SHOP_ORDERS", c);
    api_->put(channel());  // the object its status is applied to
  }

  json channel(json annotations = json::object(), json scaling = json::object()) {
    json base = {{"minReplicas", 0}, {"maxReplicas", 10}, {"targetBacklogPerReplica", 10}};
    base.update(scaling);
    return {{"apiVersion", "osmosis.dev/v1alpha1"},
            {"kind", "Channel"},
            {"metadata",
             {{"name", "orders"},
              {"namespace", "shop"},
              {"generation", 1},
              {"annotations", annotations}}},
            {"spec", {{"worker", {{"scaleTargetRef", {{"name", "worker"}}}}}, {"scaling", base}}},
            {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  }

  // The target, as the API server holds it.
  void deployment(int replicas) {
    api_->put(
        {{"apiVersion", "apps/v1"},
         {"kind", "Deployment"},
         {"metadata", {{"name", "worker"}, {"namespace", "shop"}}},
         {"spec", {{"replicas", replicas}, {"selector", {{"matchLabels", {{"app", "worker"}}}}}}}});
  }

  // One step, on `obj` (the cached Channel), with the NATS client bound or not.
  void step(const json& obj, bool natsBound = true) {
    auto parsed = parsed_.get(obj);
    scaler_.step(obj, *parsed, natsBound ? nats_ : nullptr);
  }
  int replicas() {
    return api_->get("apps/v1", "Deployment", "shop", "worker")["spec"].value("replicas", -1);
  }
  json condition() {
    return api::findCondition(
        api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders")["status"]["conditions"],
        "ScalingActive");
  }
  void pod(const std::string& name) {
    api_->put(
        {{"apiVersion", "v1"},
         {"kind", "Pod"},
         {"metadata", {{"name", name}, {"namespace", "shop"}, {"labels", {{"app", "worker"}}}}},
         {"status", {{"phase", "Running"}}}});
  }
  void report(const std::string& pod, uint64_t pending, int64_t inFlight, uint64_t seq) {
    report::Report r;
    r.namespace_ = "shop";
    r.channel = "orders";
    r.pod = pod;
    r.version = "test";
    r.figures = report::ConsumerFigures{pending, inFlight, 0};
    r.inFlight = inFlight;
    r.sequence = seq;
    r.time = clock_.wallNow();
    nats_->publish("osmosis.report.shop.orders", report::toJson(r));
  }

  std::shared_ptr<FakeApiServer> api_;
  kube::Client client_;
  kube::EventRecorder events_;
  metrics::Registry metrics_;
  kube::FakeClock clock_;
  ScalerOptions options_;
  HpaLists hpas_{client_, clock_, options_.hpaCheckPeriod};
  StreamStates streams_{clock_, options_.streamListPeriod, metrics_};
  std::shared_ptr<FakeNats> nats_ = std::make_shared<FakeNats>();
  api::ParsedChannels parsed_;
  int pokes_ = 0;
  ChannelScaler scaler_;
};

TEST_F(ChannelScalerTest, AFirstMessageWakesTheTargetFromZeroAtOnce) {
  const json obj = channel();
  step(obj);
  EXPECT_EQ(replicas(), 0);
  EXPECT_EQ(condition().value("reason", ""), "Scaling");
  EXPECT_EQ(nats_->subscriptions(), 2u) << "reports and the wake-up subscription";
  nats_->publish("shop.orders.new", "m");  // stored by the stream, seen by the wake-up
  EXPECT_EQ(pokes_, 1) << "the NATS callback asks for a step at once";
  clock_.advance(50ms);
  step(obj);
  EXPECT_EQ(replicas(), 1);
  EXPECT_EQ(nats_->subscriptions(), 1u) << "no wake-up subscription once pods run";
}

TEST_F(ChannelScalerTest, ReportsOfLivePodsDriveItOthersAreListedAndDropped) {
  const json obj = channel();
  deployment(1);
  pod("worker-a");
  step(obj);
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 45, 5);
  report("worker-a", 45, 5, 1);
  report("intruder", 0, 0, 1);
  EXPECT_GE(pokes_, 2);
  // The report says more than the stream held at the last read: read again at once.
  clock_.advance(300ms);
  const int reads = nats_->calls("consumer.info");
  step(obj);
  EXPECT_EQ(nats_->calls("consumer.info"), reads + 1);
  EXPECT_EQ(replicas(), 5) << "backlog 50 at 10 per replica";
  EXPECT_NE(metrics_.render().find(
                "osmosis_reports_total{channel=\"shop/orders\",result=\"accepted\"} 1"),
            std::string::npos)
      << metrics_.render();
  EXPECT_NE(metrics_.render().find("result=\"unknown_pod\"} 1"), std::string::npos);
}

TEST_F(ChannelScalerTest, PausedAndHpaOwnedTargetsAreLeftAlone) {
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 100, 0);
  step(channel({{kPausedAnnotation, "true"}}));
  EXPECT_EQ(replicas(), 0);
  EXPECT_EQ(condition().value("reason", ""), "Paused");
  api_->put({{"apiVersion", "autoscaling/v2"},
             {"kind", "HorizontalPodAutoscaler"},
             {"metadata", {{"name", "cpu"}, {"namespace", "shop"}}},
             {"spec",
              {{"scaleTargetRef",
                {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "worker"}}}}}});
  clock_.advance(options_.hpaCheckPeriod);
  step(channel());
  EXPECT_EQ(replicas(), 0);
  EXPECT_EQ(condition().value("reason", ""), "ConflictingAutoscaler");
  EXPECT_NE(condition().value("message", "").find("cpu"), std::string::npos);
}

// One HPA list per namespace and period, whoever asks; a failed list is not kept.
TEST_F(ChannelScalerTest, HpaListsAreSharedPerNamespaceAndPeriod) {
  HpaLists lists(client_, clock_, std::chrono::seconds(10));
  const auto listed = [&](const std::string& ns) {
    return api_->count("GET",
                       "/apis/autoscaling/v2/namespaces/" + ns + "/horizontalpodautoscalers");
  };
  ASSERT_TRUE(lists.get("shop"));
  ASSERT_TRUE(lists.get("shop"));
  clock_.advance(std::chrono::seconds(9));
  ASSERT_TRUE(lists.get("shop"));
  EXPECT_EQ(listed("shop"), 1) << "within the period: the first list, shared";
  ASSERT_TRUE(lists.get("billing"));
  EXPECT_EQ(listed("billing"), 1) << "another namespace: its own list";
  clock_.advance(std::chrono::seconds(1));
  api_->unavailable = true;
  EXPECT_FALSE(lists.get("shop")) << "the period is over: listed again, and it failed";
  api_->unavailable = false;
  auto again = lists.get("shop");
  ASSERT_TRUE(again) << "the failure was not kept";
  EXPECT_EQ(listed("shop"), 3);
  EXPECT_TRUE((*again.value()).contains("items"));
}

// One stream list per client and period, whoever asks; a failure is kept for the period too
// (callers read directly instead of queueing behind one more list while NATS is away).
TEST_F(ChannelScalerTest, StreamListsAreSharedPerClientAndPeriod) {
  StreamStates states(clock_, 500ms, metrics_);
  auto other = std::make_shared<FakeNats>();
  auto first = states.get(nats_, "SHOP_ORDERS");
  ASSERT_TRUE(first);
  ASSERT_TRUE(states.get(nats_, "SHOP_ORDERS"));
  clock_.advance(400ms);
  ASSERT_TRUE(states.get(nats_, "SHOP_ORDERS"));
  EXPECT_EQ(nats_->calls("stream.list"), 1) << "within the period: the first list, shared";
  EXPECT_EQ(first.value()->byName.at("SHOP_ORDERS").lastSequence, 0u);
  ASSERT_TRUE(states.get(other, "OTHER"));
  EXPECT_EQ(other->calls("stream.list"), 1) << "another client: its own list";
  EXPECT_TRUE(states.get(other, "OTHER").value()->byName.empty());
  nats_->publish("shop.orders.new");
  clock_.advance(100ms);
  nats_->unavailable = true;
  EXPECT_FALSE(states.get(nats_, "SHOP_ORDERS"))
      << "the period is over: listed again, and it failed";
  EXPECT_FALSE(states.get(nats_, "SHOP_ORDERS"));
  EXPECT_EQ(nats_->calls("stream.list"), 2) << "the failure is kept for the period";
  nats_->unavailable = false;
  clock_.advance(500ms);
  auto again = states.get(nats_, "SHOP_ORDERS");
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value()->byName.at("SHOP_ORDERS").lastSequence, 1u);
  EXPECT_EQ(again.value()->listedAt, clock_.now());
}

// A list slower than the period is still shared by the callers that waited for it: it is
// valid from when it came back, not from when it was asked for.
TEST_F(ChannelScalerTest, ASlowStreamListIsSharedNotMadeAgain) {
  StreamStates states(clock_, 500ms, metrics_);
  nats_->duringList = [&] { clock_.advance(600ms); };
  auto first = states.get(nats_, "SHOP_ORDERS");
  ASSERT_TRUE(first);
  EXPECT_EQ(first.value()->listedAt, clock_.now() - 600ms) << "figures as of the request";
  ASSERT_TRUE(states.get(nats_, "SHOP_ORDERS"));
  EXPECT_EQ(nats_->calls("stream.list"), 1);
  nats_->duringList = nullptr;
}

// A consumer that cannot be read (deleted, leaderless) while its stream stands still: its last
// figures age; they are never refreshed as fresh from the stream list.
TEST_F(ChannelScalerTest, AFailedConsumerReadIsNotRefreshedFromTheList) {
  const json obj = channel();
  deployment(1);
  step(obj);
  ASSERT_EQ(nats_->calls("consumer.info"), 1);
  ASSERT_TRUE(nats_->deleteConsumer("SHOP_ORDERS", "workers"));
  clock_.advance(options_.consumerReadPeriod);
  step(obj);
  ASSERT_EQ(nats_->calls("consumer.info"), 2) << "the due read, which fails";
  for (int i = 1; i <= 3; ++i) {
    clock_.advance(1s);
    step(obj);
    EXPECT_EQ(nats_->calls("consumer.info"), 2 + i) << "read again each tick, not refreshed";
  }
}

// An account with far more streams than the Channels use: listing them all costs more than
// each Channel reading its own, so the list is not used for a while (30 s), then tried again.
TEST_F(ChannelScalerTest, AStreamListFarLongerThanWantedIsNotUsed) {
  StreamStates states(clock_, 500ms, metrics_);
  for (int i = 0; i < 300; ++i) {
    nats::StreamConfig s;
    s.name = "KV_" + std::to_string(i);
    s.subjects = {"kv." + std::to_string(i)};
    ASSERT_TRUE(nats_->addStream(s));
  }
  auto first = states.get(nats_, "SHOP_ORDERS");
  ASSERT_FALSE(first) << "301 streams for one Channel";
  EXPECT_NE(first.error().message.find("301 streams for 1 Channels"), std::string::npos)
      << first.error().message;
  clock_.advance(29s);
  EXPECT_FALSE(states.get(nats_, "SHOP_ORDERS"));
  EXPECT_EQ(nats_->calls("stream.list"), 1) << "the verdict holds 30 s without listing";
  for (int i = 0; i < 20; ++i)
    (void)states.get(nats_, "KV_" + std::to_string(i));
  clock_.advance(1s);
  auto later = states.get(nats_, "SHOP_ORDERS");
  ASSERT_TRUE(later) << "21 Streams wanted: 301 is within 4 x 21 + 256";
  EXPECT_EQ(later.value()->byName.size(), 301u);
  EXPECT_EQ(nats_->calls("stream.list"), 2);
}

// Without reports (lag mode) a scaler evaluates every second; it reads its consumer only when
// the shared stream list shows its stream moved, and at least every consumerReadPeriod. The
// stream's own figures come from the list: no STREAM.INFO per Channel.
TEST_F(ChannelScalerTest, WithoutReportsTheConsumerIsReadWhenItsStreamMoved) {
  const json obj = channel();
  deployment(1);
  step(obj);
  ASSERT_EQ(nats_->calls("consumer.info"), 1);
  for (int i = 0; i < 4; ++i) {
    clock_.advance(1s);
    step(obj);
  }
  EXPECT_EQ(nats_->calls("consumer.info"), 1) << "4 s at rest: the first read stands";
  EXPECT_EQ(replicas(), 1);
  clock_.advance(1s);
  step(obj);
  EXPECT_EQ(nats_->calls("consumer.info"), 2) << "consumerReadPeriod (5 s): read anyway";
  for (int i = 0; i < 30; ++i)
    nats_->publish("shop.orders.new");
  clock_.advance(1s);
  step(obj);
  EXPECT_EQ(nats_->calls("consumer.info"), 3) << "the stream moved: read at the next tick";
  EXPECT_EQ(replicas(), 3) << "backlog 30 at 10 per replica";
  EXPECT_EQ(nats_->calls("stream.info"), 0) << "the stream's figures came from the list";
  EXPECT_EQ(nats_->calls("stream.list"), 7);
}

// The pods are listed to know who may report: at the start, and every podListPeriod only
// while reports come (with none accepted since the last list there is nothing to forget).
TEST_F(ChannelScalerTest, PodsAreListedAgainOnlyWhileTheyReport) {
  const json obj = channel();
  deployment(1);
  pod("worker-a");
  const auto lists = [&] { return api_->count("GET", "/api/v1/namespaces/shop/pods"); };
  step(obj);
  ASSERT_EQ(lists(), 1);
  clock_.advance(options_.podListPeriod);
  step(obj);
  EXPECT_EQ(lists(), 1) << "no reports: not listed again";
  report("worker-a", 0, 0, 1);
  clock_.advance(options_.podListPeriod);
  step(obj);
  EXPECT_EQ(lists(), 2) << "a report accepted since: listed again";
  clock_.advance(options_.podListPeriod);
  step(obj);
  EXPECT_EQ(lists(), 2);
}

TEST_F(ChannelScalerTest, NoNatsOrNoTargetHoldsTheReplicasAndSaysWhy) {
  step(channel(), false);
  EXPECT_EQ(condition().value("reason", ""), "NatsUnavailable");
  api_->remove("apps/v1", "Deployment", "shop", "worker");
  step(channel());
  EXPECT_EQ(condition().value("reason", ""), "TargetNotFound");
  EXPECT_NE(condition().value("message", "").find("spec.worker.scaleTargetRef"), std::string::npos);
  EXPECT_EQ(api_->count("PATCH", "/scale"), 0);
}

TEST_F(ChannelScalerTest, NatsGoingAwayIsALossOfSignalNotAScaleDown) {
  deployment(3);
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 30, 0);
  step(channel());
  EXPECT_EQ(replicas(), 3);
  nats_->unavailable = true;
  for (int i = 0; i < 300; ++i) {  // five minutes of ticks without a signal
    clock_.advance(1s);
    step(channel());
  }
  EXPECT_EQ(replicas(), 3) << "a lost signal never scales a busy Deployment down";
}

// status.throughput: a restarted operator starts in drain mode from the rate the pods were
// measured at, and keeps it in the status (issue 13).
TEST_F(ChannelScalerTest, ARememberedPerPodRateStartsDrainModeAfterARestart) {
  json obj = channel();
  obj["status"]["throughput"] = {{"perPodRate", 50},
                                 {"measuredAt", kube::formatTime(clock_.wallNow() - 60s)}};
  api_->put(obj);
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 100, 0);
  step(obj);
  EXPECT_NE(condition().value("message", "").find("(drain mode)"), std::string::npos)
      << condition().dump();
  EXPECT_EQ(replicas(), 1) << "(100 / 10 s) / 50 per pod: lag mode would ask 10";
  EXPECT_EQ(api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders")["status"]["throughput"],
            obj["status"]["throughput"]);
  // Older than 30 minutes: still drain mode, at a trust falling until 24 hours; older than
  // that, forgotten: lag mode.
  for (const auto& [age, want] : std::vector<std::pair<std::chrono::minutes, int>>{
           {31min, 1}, {std::chrono::hours(25), 10}}) {
    ChannelScaler other(
        "shop", "orders",
        ScalerDeps{client_, events_, metrics_, clock_, options_, hpas_, streams_, [] {}});
    obj["status"]["throughput"]["measuredAt"] = kube::formatTime(clock_.wallNow() - age);
    deployment(0);
    auto parsed = parsed_.get(obj);
    other.step(obj, *parsed, nats_);
    EXPECT_EQ(replicas(), want) << age.count() << " min";
  }
}

// --scaling-tolerance reaches every Channel's engine: a scale-up lands at the top of the band.
// Drain mode from the first step (a remembered 50/s per pod); 4500 waiting, drained within
// 10 s: 450/s, 9 pods' worth.
TEST_F(ChannelScalerTest, AScaleUpLandsAtTheTopOfTheOperatorsToleranceBand) {
  json obj = channel({}, {{"maxReplicas", 50}});
  obj["status"]["throughput"] = {{"perPodRate", 50},
                                 {"measuredAt", kube::formatTime(clock_.wallNow() - 60s)}};
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 4500, 0);
  for (const auto& [tolerance, want] :
       std::vector<std::pair<double, int>>{{0.0, 9}, {0.1, 10}, {0.5, 14}}) {
    options_.tuning.scaleDownTolerance = tolerance;
    ChannelScaler scaler(
        "shop", "orders",
        ScalerDeps{client_, events_, metrics_, clock_, options_, hpas_, streams_, [] {}});
    deployment(1);
    auto parsed = parsed_.get(obj);
    scaler.step(obj, *parsed, nats_);
    EXPECT_EQ(replicas(), want) << "tolerance " << tolerance;
  }
}

// --pod-deletion-cost: before a scale-down the idle pod gets the lowest cost, so the ReplicaSet
// removes it first (the removal itself needs the real controller-manager: not tested here).
// Four pods, one idle and three busy with long handlers, scaled down; each pod's annotation.
class DeletionCostTest : public ChannelScalerTest {
 protected:
  std::map<std::string, std::string> scaleDownFourPods(bool on) {
    options_.podDeletionCost = on;
    deployment(4);
    const std::vector<std::string> pods = {"worker-a", "worker-b", "worker-c", "worker-d"};
    for (const auto& p : pods)
      pod(p);
    const json obj = channel({}, {{"scaleDown", {{"stabilizationSeconds", 0}}}});
    nats_->setConsumerFigures("SHOP_ORDERS", "workers", 40, 0);
    step(obj);  // 40 waiting: 4 are right
    EXPECT_EQ(replicas(), 4);
    nats_->setConsumerFigures("SHOP_ORDERS", "workers", 0, 9);
    clock_.advance(options_.consumerReadPeriod);
    report("worker-a", 0, 0, 1);  // idle
    for (const char* p : {"worker-b", "worker-c", "worker-d"})
      report(p, 0, 3, 1);  // busy with long handlers
    clock_.advance(300ms);
    step(obj);
    EXPECT_EQ(replicas(), 2) << "backlog 9 at 10 per replica: 1, by at most 50% a step";
    std::map<std::string, std::string> costs;
    for (const auto& p : pods) {
      costs[p] = api_->get("v1", "Pod", "shop", p)["metadata"]
                     .value("annotations", json::object())
                     .value(kPodDeletionCostAnnotation, "unset");
    }
    return costs;
  }
};

TEST_F(DeletionCostTest, ScaleDownMarksTheIdlePodCheapestWhenSwitchedOn) {
  EXPECT_EQ(
      scaleDownFourPods(true),
      (std::map<std::string, std::string>{
          {"worker-a", "0"}, {"worker-b", "1003"}, {"worker-c", "1003"}, {"worker-d", "1003"}}));
  EXPECT_NE(metrics_.render().find("osmosis_pod_deletion_cost_patches_total{result=\"ok\"} 4"),
            std::string::npos)
      << metrics_.render();
}

TEST_F(DeletionCostTest, OffByDefault) {
  for (const auto& [pod, cost] : scaleDownFourPods(false))
    EXPECT_EQ(cost, "unset") << pod;
}

TEST_F(ChannelScalerTest, StatusIsTheAutoscalersOwnFieldsByApply) {
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 20, 0);
  step(channel());
  bool applied = false;
  for (const auto& r : api_->requests()) {
    if (r.target.find("/status") == std::string::npos) continue;
    applied = true;
    EXPECT_NE(r.contentType.find("apply-patch"), std::string::npos);
    EXPECT_NE(r.target.find("fieldManager=osmosis-autoscaler"), std::string::npos);
    json body = json::parse(r.body);
    ASSERT_EQ(body["status"]["conditions"].size(), 1u);
    EXPECT_EQ(body["status"]["conditions"][0]["type"], "ScalingActive");
    EXPECT_FALSE(body["status"].contains("backlog")) << "the Channel controller's field";
  }
  EXPECT_TRUE(applied);
}

}  // namespace
}  // namespace osmosis::autoscaler
