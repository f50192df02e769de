// The Channel controller's branches, fast: the real reconciler against an in-memory NATS
// (tests/fakes/fake_nats.hpp) and an in-memory API (tests/fakes/fake_api_server.hpp). The same
// behaviour against real servers: tests/integration/channel_test.cpp.

#include <gtest/gtest.h>

#include "operator/channel/reconciler.hpp"
#include "tests/fakes/fake_api_server.hpp"
#include "tests/fakes/fake_nats.hpp"

namespace osmosis::channel {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeApiServer;
using testing::FakeNats;

class ChannelReconcilerTest : public ::testing::Test {
 protected:
  ChannelReconcilerTest()
      : api_(std::make_shared<FakeApiServer>()),
        client_(api_,
                [] {
                  kube::ClientOptions o;
                  o.qps = 0;
                  o.maxRetries = 0;
                  return o;
                }()),
        events_(client_, {}),
        pool_(nats::ConnectionOptions{}, "/nonexistent",
              [this](const nats::ConnectionOptions&) -> Result<std::shared_ptr<nats::Client>> {
                if (refuseConnect_) return makeError(Error::Code::kUnavailable, "no servers");
                return std::static_pointer_cast<nats::Client>(nats_);
              }),
        reconciler_(client_, store_, parsed_, pool_, events_, metrics_, {}, clock_) {}

  // A Channel with the finalizer already on, generation `gen`, in the cache and the API.
  json channel(json spec = json::object(), int64_t gen = 1, json status = json()) {
    json c = {{"apiVersion", "osmosis.dev/v1alpha1"},
              {"kind", "Channel"},
              {"metadata",
               {{"name", "orders"},
                {"namespace", "shop"},
                {"uid", "u-1"},
                {"generation", gen},
                {"resourceVersion", std::to_string(++rv_)},
                {"creationTimestamp", "2026-01-01T00:00:00Z"},
                {"finalizers", json::array({kFinalizer})}}},
              {"spec", spec}};
    if (!status.is_null()) c["status"] = status;
    api_->put(c);
    (void)store_.upsert(c);
    return c;
  }

  Result<kube::ReconcileResult> reconcile() {
    kube::Request req{"shop", "orders"};
    return reconciler_.reconcile(req, kube::ReconcileLog("channel", req, "test"));
  }

  // The Channel's status as the fake API server has it (what the controller applied).
  json status() { return api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders")["status"]; }
  json condition(const std::string& type) {
    return api::findCondition(status().value("conditions", json()), type);
  }
  // Feed the applied status back into the cache, as the informer would.
  void observeStatus() {
    json c = api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders");
    (void)store_.upsert(c);
  }
  std::set<std::string> eventReasons() {
    events_.flush(5s);
    std::set<std::string> out;
    for (const auto& r : api_->requests()) {
      if (r.method != "POST" || r.target.find("/events") == std::string::npos) continue;
      out.insert(json::parse(r.body).value("reason", ""));
    }
    return out;
  }

  std::shared_ptr<FakeApiServer> api_;
  kube::Client client_;
  kube::EventRecorder events_;
  std::shared_ptr<FakeNats> nats_ = std::make_shared<FakeNats>();
  bool refuseConnect_ = false;
  natspool::NatsConnections pool_;
  kube::Store store_;
  api::ParsedChannels parsed_;
  metrics::Registry metrics_;
  kube::FakeClock clock_;
  ChannelReconciler reconciler_;
  int rv_ = 100;
};

TEST_F(ChannelReconcilerTest, CreatesStreamAndConsumerAndSaysProvisioned) {
  channel({{"stream", {{"maxAge", "24h"}}}});
  auto r = reconcile();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->requeueAfter, 30s) << "periodic resync";
  EXPECT_TRUE(nats_->hasStream("SHOP_ORDERS"));
  EXPECT_TRUE(nats_->hasConsumer("SHOP_ORDERS", "workers"));
  EXPECT_EQ(condition("Ready").value("reason", ""), "Provisioned");
  EXPECT_EQ(condition("StreamReady").value("status", ""), "True");
  EXPECT_EQ(status().value("stream", ""), "SHOP_ORDERS");
  EXPECT_EQ(status().value("backlog", -1), 0);
  EXPECT_EQ(eventReasons(), (std::set<std::string>{"StreamCreated", "ConsumerCreated"}));
}

TEST_F(ChannelReconcilerTest, TheFinalizerComesFirst) {
  json c = channel();
  c["metadata"].erase("finalizers");
  api_->put(c);
  (void)store_.upsert(c);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_FALSE(nats_->hasStream("SHOP_ORDERS")) << "nothing created before the finalizer is on";
  auto f = api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders")["metadata"]["finalizers"];
  EXPECT_EQ(f, json::array({kFinalizer}));
}

TEST_F(ChannelReconcilerTest, SpecEditsAreUpdatesServerEditsAreRepairedDrift) {
  channel({{"stream", {{"maxAge", "1h"}}}});
  ASSERT_TRUE(reconcile().ok());
  observeStatus();
  channel({{"stream", {{"maxAge", "2h"}}}}, 2, status());
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->streamInfo("SHOP_ORDERS")->config.maxAge, 2h);
  EXPECT_TRUE(eventReasons().count("StreamUpdated"));
  observeStatus();
  // Someone edits the server; the spec did not change (generation 2 already observed).
  auto edited = nats_->streamInfo("SHOP_ORDERS")->config;
  edited.maxMsgs = 5;
  nats_->editStream(edited);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->streamInfo("SHOP_ORDERS")->config.maxMsgs, -1);
  EXPECT_TRUE(eventReasons().count("StreamDriftRepaired"));
}

TEST_F(ChannelReconcilerTest, ALostStreamIsRecreatedWithAWarning) {
  channel();
  ASSERT_TRUE(reconcile().ok());
  observeStatus();
  ASSERT_TRUE(nats_->deleteStream("SHOP_ORDERS").ok());
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(nats_->hasStream("SHOP_ORDERS"));
  auto reasons = eventReasons();
  EXPECT_TRUE(reasons.count("StreamRecreated"));
  EXPECT_TRUE(reasons.count("ConsumerRecreated"));
}

TEST_F(ChannelReconcilerTest, AnImmutableDifferenceIsRefusedNotApplied) {
  nats::StreamConfig memory;
  memory.name = "SHOP_ORDERS";
  memory.subjects = {"shop.orders.>"};
  memory.storage = nats::Storage::kMemory;
  nats_->editStream(memory);
  channel();  // wants File
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->calls("stream.update"), 0);
  EXPECT_EQ(condition("Ready").value("reason", ""), "ImmutableFieldChanged");
  EXPECT_NE(condition("Ready").value("message", "").find("storage"), std::string::npos);
}

TEST_F(ChannelReconcilerTest, NatsDownSaysSoAndRetries) {
  channel();
  nats_->unavailable = true;
  auto r = reconcile();
  ASSERT_FALSE(r.ok()) << "an error: the queue retries with backoff";
  EXPECT_EQ(r.error().code, Error::Code::kUnavailable);
  EXPECT_EQ(condition("Ready").value("reason", ""), "NatsUnavailable");
  nats_->unavailable = false;
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("Ready").value("status", ""), "True");
}

TEST_F(ChannelReconcilerTest, NoConnectionAtAllIsRetriedAConfigErrorIsNot) {
  channel();
  refuseConnect_ = true;
  auto r = reconcile();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(condition("Ready").value("reason", ""), "NatsUnavailable");
  // A Secret that is not there will not appear by retrying fast: the resync looks again.
  channel({{"nats", {{"secretRef", {{"name", "missing"}}}}}});
  r = reconcile();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(condition("Ready").value("reason", ""), "NatsSecretNotFound");
}

TEST_F(ChannelReconcilerTest, ARefusedConsumerChangeRecreatesWhenIdleAndWaitsWhenBusy) {
  channel({{"consumer", {{"maxDeliver", 5}}}});
  ASSERT_TRUE(reconcile().ok());
  observeStatus();
  nats_->refuseConsumerUpdate = true;
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 0, 3);
  channel({{"consumer", {{"maxDeliver", 7}}}}, 2, status());
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("ConsumerReady").value("reason", ""), "UpdateBlocked");
  EXPECT_EQ(nats_->calls("consumer.delete"), 0) << "3 messages in flight";
  nats_->setConsumerFigures("SHOP_ORDERS", "workers", 0, 0);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->calls("consumer.delete"), 1);
  EXPECT_EQ(nats_->consumerInfo("SHOP_ORDERS", "workers")->config.maxDeliver, 7);
  EXPECT_EQ(condition("ConsumerReady").value("status", ""), "True");
}

TEST_F(ChannelReconcilerTest, RefusedChannelsTouchNoNats) {
  channel({{"subjects", {"victim.jobs.>"}}});
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("Ready").value("reason", ""), "SubjectNotPermitted");
  channel({{"stream", {{"replicas", 9}}}});
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("Ready").value("reason", ""), "InvalidSpec");
  EXPECT_EQ(nats_->calls("stream.info") + nats_->calls("stream.create"), 0);
}

// One owner per field: the controller applies only its conditions and fields, by server-side
// apply under its own manager; the autoscaler's ScalingActive is left alone.
TEST_F(ChannelReconcilerTest, StatusIsAppliedOnlyForTheControllersOwnFields) {
  json scaling = {
      {"conditions",
       json::array({{{"type", "ScalingActive"}, {"status", "True"}, {"reason", "Scaling"}}})},
      {"replicas", {{"current", 2}, {"desired", 2}}}};
  channel(json::object(), 1, scaling);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("ScalingActive").value("reason", ""), "Scaling");
  EXPECT_EQ(status()["replicas"]["current"], 2);
  int applies = 0;
  for (const auto& r : api_->requests()) {
    if (r.target.find("/status") == std::string::npos) continue;
    EXPECT_EQ(r.method, "PATCH");
    EXPECT_NE(r.contentType.find("apply-patch"), std::string::npos) << "no merge patch of status";
    EXPECT_NE(r.target.find("fieldManager=osmosis-channel-controller"), std::string::npos);
    json body = json::parse(r.body);
    EXPECT_FALSE(body["status"].contains("replicas"));
    for (const auto& c : body["status"]["conditions"])
      EXPECT_NE(c.value("type", ""), "ScalingActive");
    ++applies;
  }
  EXPECT_EQ(applies, 1);
  // An idle resync writes nothing.
  observeStatus();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(api_->count("PATCH", "/status"), 1);
}

TEST_F(ChannelReconcilerTest, DeletionFollowsThePolicyThenReleasesTheFinalizer) {
  channel({{"deletionPolicy", "Delete"}});
  ASSERT_TRUE(reconcile().ok());
  json c = api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders");
  c["metadata"]["deletionTimestamp"] = "2026-01-02T00:00:00Z";
  (void)store_.upsert(c);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_FALSE(nats_->hasStream("SHOP_ORDERS"));
  EXPECT_TRUE(
      api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders")["metadata"]["finalizers"]
          .empty());
  EXPECT_TRUE(eventReasons().count("StreamDeleted"));
}

// spec.gateway (issue 14): the results stream follows the switch; status.gateway says where.
TEST_F(ChannelReconcilerTest, GatewayEnabledProvisionsTheResultsStreamAndStatus) {
  channel({{"stream", {{"storage", "Memory"}, {"replicas", 1}}},
           {"gateway", {{"enabled", true}, {"resultsMaxAge", "30m"}}}});
  ASSERT_TRUE(reconcile().ok());
  auto info = nats_->streamInfo("SHOP_ORDERS_RESULTS");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->config.subjects, std::vector<std::string>{"osmosis.results.shop.orders.>"});
  EXPECT_EQ(info->config.maxAge, 30min);
  EXPECT_EQ(info->config.storage, nats::Storage::kMemory) << "the channel stream's storage";
  EXPECT_EQ(info->config.retention, nats::Retention::kLimits);
  EXPECT_EQ(condition("GatewayReady").value("status", ""), "True");
  EXPECT_EQ(condition("GatewayReady").value("reason", ""), "ResultsStreamReady");
  EXPECT_EQ(status()["gateway"], (json{{"path", "/v1/namespaces/shop/channels/orders/messages"},
                                       {"resultsStream", "SHOP_ORDERS_RESULTS"}}));
  EXPECT_EQ(condition("Ready").value("reason", ""), "Provisioned");
  EXPECT_TRUE(eventReasons().count("ResultsStreamCreated"));

  // Edited: followed. Changed on the server: repaired. Deleted on the server: re-created.
  observeStatus();
  channel({{"stream", {{"storage", "Memory"}}}, {"gateway", {{"enabled", true}}}}, 2, status());
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->streamInfo("SHOP_ORDERS_RESULTS")->config.maxAge, 10min);
  EXPECT_TRUE(eventReasons().count("ResultsStreamUpdated"));
  observeStatus();
  auto edited = nats_->streamInfo("SHOP_ORDERS_RESULTS")->config;
  edited.maxAge = 1h;
  nats_->editStream(edited);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->streamInfo("SHOP_ORDERS_RESULTS")->config.maxAge, 10min);
  EXPECT_TRUE(eventReasons().count("ResultsStreamDriftRepaired"));
  ASSERT_TRUE(nats_->deleteStream("SHOP_ORDERS_RESULTS").ok());
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(nats_->hasStream("SHOP_ORDERS_RESULTS"));
  EXPECT_TRUE(eventReasons().count("ResultsStreamRecreated"));
  // A field NATS cannot change in place: results are transient, so it is replaced.
  edited = nats_->streamInfo("SHOP_ORDERS_RESULTS")->config;
  edited.storage = nats::Storage::kFile;
  nats_->editStream(edited);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->streamInfo("SHOP_ORDERS_RESULTS")->config.storage, nats::Storage::kMemory);
  EXPECT_TRUE(eventReasons().count("ResultsStreamReplaced"));
  EXPECT_EQ(condition("GatewayReady").value("status", ""), "True");
}

TEST_F(ChannelReconcilerTest, DisablingTheGatewayDeletesTheResultsStreamAndClearsStatus) {
  channel({{"gateway", {{"enabled", true}}}});
  ASSERT_TRUE(reconcile().ok());
  ASSERT_TRUE(nats_->hasStream("SHOP_ORDERS_RESULTS"));
  observeStatus();
  channel({{"gateway", {{"enabled", false}}}}, 2, status());
  ASSERT_TRUE(reconcile().ok());
  EXPECT_FALSE(nats_->hasStream("SHOP_ORDERS_RESULTS"));
  EXPECT_TRUE(nats_->hasStream("SHOP_ORDERS")) << "the channel's own stream is untouched";
  // The last apply leaves status.gateway out, which removes it (a real API server's server-side
  // apply: tests/integration/channel_test.cpp; the fake merges, so it is checked on the body).
  json lastApply;
  for (const auto& r : api_->requests())
    if (r.method == "PATCH" && r.target.find("/status") != std::string::npos)
      lastApply = json::parse(r.body);
  ASSERT_TRUE(lastApply.is_object());
  EXPECT_FALSE(lastApply["status"].contains("gateway")) << lastApply.dump();
  EXPECT_EQ(condition("GatewayReady").value("reason", ""), "Disabled");
  EXPECT_EQ(condition("GatewayReady").value("status", ""), "False");
  EXPECT_EQ(condition("Ready").value("status", ""), "True");
  EXPECT_TRUE(eventReasons().count("ResultsStreamDeleted"));
  // From then on an idle resync asks NATS nothing about it.
  json applied = api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders");
  applied["status"].erase("gateway");  // as the real server's apply did
  (void)store_.upsert(applied);
  const int infos = nats_->calls("stream.info");
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->calls("stream.info"), infos + 1) << "only the channel's own stream";
}

TEST_F(ChannelReconcilerTest, AChannelThatNeverHadAGatewayIsCheckedOnceThenLeftAlone) {
  channel();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->calls("stream.info"), 2) << "its stream, and once for a results stream";
  EXPECT_EQ(condition("GatewayReady").value("reason", ""), "Disabled");
  EXPECT_FALSE(status().contains("gateway"));
  observeStatus();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(nats_->calls("stream.info"), 3);
  EXPECT_EQ(nats_->calls("stream.delete"), 0);
}

TEST_F(ChannelReconcilerTest, AResultsStreamFailureShowsInGatewayReadyNotReady) {
  nats_->refuseStreamCreate.insert("SHOP_ORDERS_RESULTS");
  channel({{"gateway", {{"enabled", true}}}});
  auto r = reconcile();
  ASSERT_TRUE(r.ok()) << "a refusal is not retried fast: " << r.error().message;
  json gw = condition("GatewayReady");
  EXPECT_EQ(gw.value("status", ""), "False");
  EXPECT_EQ(gw.value("reason", ""), "ResultsStreamFailed");
  EXPECT_NE(gw.value("message", "").find("SHOP_ORDERS_RESULTS"), std::string::npos) << gw;
  EXPECT_NE(gw.value("message", "").find("overlap"), std::string::npos) << gw;
  EXPECT_EQ(condition("Ready").value("reason", ""), "Provisioned")
      << "the channel still takes and delivers messages";
  EXPECT_TRUE(eventReasons().count("ResultsStreamFailed"));
  nats_->refuseStreamCreate.clear();
  observeStatus();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("GatewayReady").value("status", ""), "True");
}

TEST_F(ChannelReconcilerTest, NatsDownLeavesGatewayReadyUnknownWithOneWarning) {
  channel({{"gateway", {{"enabled", true}}}});
  nats_->unavailable = true;
  ASSERT_FALSE(reconcile().ok());
  EXPECT_EQ(condition("GatewayReady").value("status", ""), "Unknown");
  EXPECT_EQ(condition("GatewayReady").value("reason", ""), "NatsUnavailable");
  EXPECT_FALSE(eventReasons().count("ResultsStreamFailed"));
  // A refused Channel says why for the gateway too.
  channel({{"gateway", {{"enabled", true}, {"resultsMaxAge", "8d"}}}});
  nats_->unavailable = false;
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("GatewayReady").value("reason", ""), "InvalidSpec");
  EXPECT_FALSE(nats_->hasStream("SHOP_ORDERS_RESULTS"));
}

TEST_F(ChannelReconcilerTest, DeletionAlwaysDeletesTheResultsStreamEvenWithRetain) {
  channel({{"deletionPolicy", "Retain"}, {"gateway", {{"enabled", true}}}});
  ASSERT_TRUE(reconcile().ok());
  ASSERT_TRUE(nats_->hasStream("SHOP_ORDERS_RESULTS"));
  json c = api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders");
  c["metadata"]["deletionTimestamp"] = "2026-01-02T00:00:00Z";
  (void)store_.upsert(c);
  // NATS down: the finalizer stays until the results stream is gone.
  nats_->unavailable = true;
  ASSERT_FALSE(reconcile().ok());
  EXPECT_FALSE(
      api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders")["metadata"]["finalizers"]
          .empty());
  nats_->unavailable = false;
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(nats_->hasStream("SHOP_ORDERS")) << "Retain keeps the channel's stream";
  EXPECT_FALSE(nats_->hasStream("SHOP_ORDERS_RESULTS"));
  EXPECT_TRUE(
      api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders")["metadata"]["finalizers"]
          .empty());
  auto reasons = eventReasons();
  EXPECT_TRUE(reasons.count("ResultsStreamDeleted"));
  EXPECT_TRUE(reasons.count("StreamRetained"));
}

TEST_F(ChannelReconcilerTest, DeletingAChannelWithoutAGatewayNeedsNoNats) {
  channel();
  ASSERT_TRUE(reconcile().ok());
  observeStatus();
  json c = api_->get("osmosis.dev/v1alpha1", "Channel", "shop", "orders");
  c["metadata"]["deletionTimestamp"] = "2026-01-02T00:00:00Z";
  (void)store_.upsert(c);
  nats_->unavailable = true;
  ASSERT_TRUE(reconcile().ok()) << "Retain, and a pass found no results stream";
  EXPECT_EQ(nats_->calls("stream.delete"), 0);
}

}  // namespace
}  // namespace osmosis::channel
