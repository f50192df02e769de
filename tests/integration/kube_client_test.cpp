// The Kubernetes client against a real kube-apiserver + etcd (hack/control-plane.sh);
// results are checked with kubectl, a client we did not write.

#include <atomic>
#include <mutex>

#include <gtest/gtest.h>

#include "operator/kube/cache/informer.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "operator/kube/events/event_recorder.hpp"
#include "operator/kube/leader/leader_elector.hpp"
#include "tests/fixtures/control_plane.hpp"
#include "tests/fixtures/tcp_proxy.hpp"

namespace osmosis::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ControlPlane;
using testing::eventually;

RestConfig adminConfig(const ControlPlane& cp, int port = 0) {
  auto c = loadKubeconfig({cp.kubeconfig()}, "");
  EXPECT_TRUE(c.ok()) << c.error().message;
  RestConfig cfg = c.value();
  if (port != 0) cfg.server = "https://127.0.0.1:" + std::to_string(port);
  return cfg;
}

std::unique_ptr<Client> makeClient(const RestConfig& cfg) {
  ClientOptions o;
  o.maxRetries = 2;
  return std::make_unique<Client>(makeCpprestTransport(cfg, {}), o);
}

json configMap(const std::string& ns, const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"data", {{"v", value}}}};
}

class KubeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cp_ = testing::sharedControlPlane();
    ASSERT_NE(cp_, nullptr) << "the control plane did not start (see stderr)";
    ns_ = cp_->createNamespace("kube");
    ASSERT_FALSE(ns_.empty());
    client_ = makeClient(adminConfig(*cp_));
  }

  std::string kubectlGet(const std::string& what, const std::string& jsonpath) {
    auto r = cp_->kubectl({"get", "-n", ns_, what, "-o", "jsonpath=" + jsonpath});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }

  ControlPlane* cp_ = nullptr;
  std::string ns_;
  std::unique_ptr<Client> client_;
};

TEST_F(KubeClientTest, CrudWithTypedErrors) {
  auto created = client_->create(resources::configMaps(), ns_, configMap(ns_, "a", "1"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(kubectlGet("configmap/a", "{.data.v}"), "1");

  auto again = client_->create(resources::configMaps(), ns_, configMap(ns_, "a", "1"));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(isAlreadyExists(again.error())) << again.error().message;

  json stale = created.value();
  stale["data"]["v"] = "2";
  ASSERT_TRUE(client_->update(resources::configMaps(), ns_, stale).ok());
  stale["data"]["v"] = "3";  // same (now old) resourceVersion
  auto conflict = client_->update(resources::configMaps(), ns_, stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(isConflict(conflict.error())) << conflict.error().message;
  EXPECT_EQ(kubectlGet("configmap/a", "{.data.v}"), "2");

  auto missing = client_->get(resources::configMaps(), ns_, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(isNotFound(missing.error()));

  auto invalid =
      client_->create(resources::configMaps(), ns_, configMap(ns_, "Not_A_Valid_Name", "x"));
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(isInvalid(invalid.error()));
  EXPECT_NE(invalid.error().message.find("metadata.name"), std::string::npos)
      << invalid.error().message;

  ASSERT_TRUE(client_->remove(resources::configMaps(), ns_, "a").ok());
  EXPECT_TRUE(isNotFound(client_->get(resources::configMaps(), ns_, "a").error()));
}

TEST_F(KubeClientTest, MergeJsonAndServerSideApplyPatches) {
  ASSERT_TRUE(client_->create(resources::configMaps(), ns_, configMap(ns_, "p", "1")).ok());
  ASSERT_TRUE(client_
                  ->patch(resources::configMaps(), ns_, "p", PatchType::kMerge,
                          {{"data", {{"m", "merge"}}}})
                  .ok());
  ASSERT_TRUE(client_
                  ->patch(resources::configMaps(), ns_, "p", PatchType::kJson,
                          json::array({{{"op", "add"}, {"path", "/data/j"}, {"value", "json"}}}))
                  .ok());
  PatchOptions apply;
  apply.fieldManager = "osmosis-test";
  auto applied = client_->patch(resources::configMaps(), ns_, "p", PatchType::kApply,
                                {{"apiVersion", "v1"},
                                 {"kind", "ConfigMap"},
                                 {"metadata", {{"name", "p"}, {"namespace", ns_}}},
                                 {"data", {{"a", "apply"}}}},
                                apply);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(kubectlGet("configmap/p", "{.data.m}/{.data.j}/{.data.a}/{.data.v}"),
            "merge/json/apply/1");
  auto managers = kubectlGet("configmap/p", "{.metadata.managedFields[*].manager}");
  EXPECT_NE(managers.find("osmosis-test"), std::string::npos) << managers;
}

TEST_F(KubeClientTest, ListPagesThroughEverything) {
  for (int i = 0; i < 23; ++i) {
    ASSERT_TRUE(
        client_->create(resources::configMaps(), ns_, configMap(ns_, "c" + std::to_string(i), "x"))
            .ok());
  }
  ListOptions o;
  o.limit = 5;
  auto listed = client_->list(resources::configMaps(), ns_, o);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  size_t ours = 0;
  for (const auto& item : listed->items)
    ours += item["metadata"]["name"].get<std::string>()[0] == 'c';
  EXPECT_EQ(ours, 23u);
  EXPECT_FALSE(listed->resourceVersion.empty());
}

TEST_F(KubeClientTest, StatusAndScaleSubresources) {
  json deploy = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "w"}, {"namespace", ns_}}},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", {{"app", "w"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "w"}}}}},
          {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}};
  ASSERT_TRUE(client_->create(resources::deployments(), ns_, deploy).ok());
  auto scaled = client_->setReplicas(resources::deployments(), ns_, "w", 6);
  ASSERT_TRUE(scaled.ok()) << scaled.error().message;
  EXPECT_EQ(kubectlGet("deployment/w", "{.spec.replicas}"), "6");
  auto scale = client_->getScale(resources::deployments(), ns_, "w");
  ASSERT_TRUE(scale.ok());
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 6);

  auto current = client_->get(resources::deployments(), ns_, "w");
  ASSERT_TRUE(current.ok());
  (*current)["status"] = {{"replicas", 4}, {"readyReplicas", 3}};
  auto status = client_->updateStatus(resources::deployments(), ns_, current.value());
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(kubectlGet("deployment/w", "{.status.readyReplicas}"), "3");
  // Discovery finds the same resource from apiVersion + kind.
  auto viaDiscovery = client_->resourceFor("apps/v1", "ReplicaSet");
  ASSERT_TRUE(viaDiscovery.ok()) << viaDiscovery.error().message;
  EXPECT_EQ(viaDiscovery->plural, "replicasets");
}

TEST_F(KubeClientTest, RestrictedIdentityGetsForbiddenThenAllowedAfterARoleBinding) {
  ASSERT_EQ(cp_->kubectl({"create", "serviceaccount", "-n", ns_, "limited"}).code, 0);
  auto token = cp_->kubectl({"create", "token", "-n", ns_, "limited"});
  ASSERT_EQ(token.code, 0) << token.err;
  RestConfig cfg = adminConfig(*cp_);
  cfg.clientCertPem.clear();
  cfg.clientKeyPem.clear();
  cfg.token = token.out;
  while (!cfg.token.empty() && cfg.token.back() == '\n')
    cfg.token.pop_back();
  auto limited = makeClient(cfg);
  auto refused = limited->listPage(resources::configMaps(), ns_);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(isForbidden(refused.error())) << refused.error().message;
  EXPECT_NE(refused.error().message.find("limited"), std::string::npos) << refused.error().message;

  ASSERT_EQ(cp_->kubectl({"create", "role", "-n", ns_, "cm-reader", "--verb=list",
                          "--resource=configmaps"})
                .code,
            0);
  ASSERT_EQ(cp_->kubectl({"create", "rolebinding", "-n", ns_, "cm-reader", "--role=cm-reader",
                          "--serviceaccount=" + ns_ + ":limited"})
                .code,
            0);
  EXPECT_TRUE(
      eventually([&] { return limited->listPage(resources::configMaps(), ns_).ok(); }, 10s));
}

// Records what an informer's handlers saw, in order.
struct Recorder {
  std::mutex mu;
  std::vector<std::string> events;
  EventHandlers handlers() {
    return {[this](const ObjectPtr& o) { push("add", *o); },
            [this](const ObjectPtr&, const ObjectPtr& o) { push("update", *o); },
            [this](const ObjectPtr& o) { push("delete", *o); }};
  }
  void push(const std::string& what, const json& o) {
    std::lock_guard lock(mu);
    std::string v =
        o.contains("data") && o["data"].contains("v") ? o["data"]["v"].get<std::string>() : "";
    events.push_back(what + " " + o["metadata"]["name"].get<std::string>() +
                     (v.empty() ? "" : "=" + v));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return events;
  }
  bool has(const std::string& e) {
    auto s = snapshot();
    return std::find(s.begin(), s.end(), e) != s.end();
  }
};

TEST_F(KubeClientTest, InformerSeesCreatesUpdatesAndDeletesInOrder) {
  Informer informer(*client_, resources::configMaps(), ns_);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(10s));
  ASSERT_EQ(cp_->kubectl({"create", "configmap", "-n", ns_, "x", "--from-literal=v=1"}).code, 0);
  ASSERT_EQ(
      cp_->kubectl({"patch", "configmap", "-n", ns_, "x", "-p", R"({"data":{"v":"2"}})"}).code, 0);
  ASSERT_EQ(cp_->kubectl({"delete", "configmap", "-n", ns_, "x"}).code, 0);
  ASSERT_TRUE(eventually([&] { return rec.has("delete x=2"); }, 10s));
  std::vector<std::string> ours;
  for (const auto& e : rec.snapshot()) {
    if (e.find(" x") != std::string::npos) ours.push_back(e);
  }
  EXPECT_EQ(ours, (std::vector<std::string>{"add x=1", "update x=2", "delete x=2"}));
  EXPECT_EQ(informer.store().get(ns_ + "/x"), nullptr);
  informer.stop();
}

TEST_F(KubeClientTest, RecoversAfterTheApiserverRestartsAndSeesWhatChangedMeanwhile) {
  testing::TcpProxy proxy(cp_->apiserverPort());
  auto viaProxy = makeClient(adminConfig(*cp_, proxy.port()));
  InformerOptions o;
  o.backoff = {100ms, 2.0, 0.5, 1000ms};
  Informer informer(*viaProxy, resources::configMaps(), ns_, o);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  ASSERT_EQ(cp_->kubectl({"create", "configmap", "-n", ns_, "before", "--from-literal=v=1"}).code,
            0);
  ASSERT_EQ(cp_->kubectl({"create", "configmap", "-n", ns_, "doomed", "--from-literal=v=1"}).code,
            0);
  informer.start();
  ASSERT_TRUE(informer.waitForSync(10s));
  ASSERT_TRUE(eventually([&] { return rec.has("add doomed=1"); }, 10s));

  proxy.cut();                               // the client loses the server...
  auto restarted = cp_->restartApiserver();  // ...which restarts...
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  // ...and things change while the client cannot see them.
  ASSERT_EQ(cp_->kubectl({"create", "configmap", "-n", ns_, "during", "--from-literal=v=1"}).code,
            0);
  ASSERT_EQ(
      cp_->kubectl({"patch", "configmap", "-n", ns_, "before", "-p", R"({"data":{"v":"2"}})"}).code,
      0);
  ASSERT_EQ(cp_->kubectl({"delete", "configmap", "-n", ns_, "doomed"}).code, 0);
  proxy.restore();

  EXPECT_TRUE(eventually(
      [&] {
        return rec.has("add during=1") && rec.has("update before=2") && rec.has("delete doomed=1");
      },
      30s))
      << "seen: " << ::testing::PrintToString(rec.snapshot());
  EXPECT_EQ(informer.store().get(ns_ + "/doomed"), nullptr);
  EXPECT_GE(informer.stats().errors, 1u);
  informer.stop();
}

TEST_F(KubeClientTest, EventsAreCorrelatedAndStormsAreLimited) {
  auto cm = client_->create(resources::configMaps(), ns_, configMap(ns_, "subject", "1"));
  ASSERT_TRUE(cm.ok());
  EventRecorderOptions eo;
  eo.burst = 5;
  EventRecorder recorder(*client_, eo);
  ObjectRef ref = ObjectRef::from(cm.value());
  for (int i = 0; i < 3; ++i)
    recorder.normal(ref, "Provisioned", "stream ORDERS created");
  ASSERT_TRUE(recorder.flush(10s));
  auto counts = kubectlGet("events", "{range .items[*]}{.reason}={.count};{end}");
  EXPECT_EQ(counts, "Provisioned=3;") << "a repeated event bumps count instead of creating another";
  for (int i = 0; i < 20; ++i)
    recorder.warning(ref, "Storm", "event " + std::to_string(i));
  ASSERT_TRUE(recorder.flush(10s));
  auto stats = recorder.stats();
  EXPECT_EQ(stats.created, 3u) << "burst 5: 1 Provisioned + 2 more before the spam filter closes";
  EXPECT_EQ(stats.aggregated, 2u);
  EXPECT_EQ(stats.rateLimited, 18u);
  auto r =
      cp_->kubectl({"get", "events", "-n", ns_, "--field-selector", "reason=Storm", "-o", "name"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
}

// ---- leader election ----

struct Candidate {
  std::unique_ptr<testing::TcpProxy> proxy;
  std::unique_ptr<Client> client;
  std::unique_ptr<LeaderElector> elector;
  StopSource stop;
  std::thread thread;
  std::atomic<bool> leading{false};
  std::atomic<int> stoppedLeading{0};
};

TEST_F(KubeClientTest, LeaderElectionOneLeaderAndFailoverWithinTheLeaseDuration) {
  LeaderElectionConfig base{ns_, "osmosis-leader", "", 3000ms, 2000ms, 500ms};
  ASSERT_TRUE(validate(base).size() == 1);  // only the identity is missing
  std::atomic<int> concurrentLeaders{0};
  std::atomic<bool> overlap{false};
  std::vector<std::unique_ptr<Candidate>> cands;
  for (const char* id : {"a", "b"}) {
    auto c = std::make_unique<Candidate>();
    c->proxy = std::make_unique<testing::TcpProxy>(cp_->apiserverPort());
    c->client = makeClient(adminConfig(*cp_, c->proxy->port()));
    LeaderElectionConfig cfg = base;
    cfg.identity = id;
    Candidate* self = c.get();
    c->elector =
        std::make_unique<LeaderElector>(*c->client, cfg,
                                        LeaderCallbacks{[self, &concurrentLeaders, &overlap] {
                                                          self->leading = true;
                                                          if (++concurrentLeaders > 1)
                                                            overlap = true;
                                                        },
                                                        [self, &concurrentLeaders] {
                                                          if (self->leading.exchange(false))
                                                            --concurrentLeaders;
                                                          ++self->stoppedLeading;
                                                        },
                                                        nullptr});
    cands.push_back(std::move(c));
  }
  for (auto& c : cands) {
    Candidate* self = c.get();
    c->thread = std::thread([self] { self->elector->run(self->stop); });
  }
  ASSERT_TRUE(eventually([&] { return cands[0]->leading || cands[1]->leading; }, 15s));
  int leader = cands[0]->leading ? 0 : 1;
  int follower = 1 - leader;
  EXPECT_FALSE(cands[follower]->leading.load());

  // The leader loses the API server (as if its node died): it must step down within the
  // renew deadline, and the other must take over once the lease expires.
  auto cutAt = std::chrono::steady_clock::now();
  cands[leader]->proxy->cut();
  ASSERT_TRUE(eventually([&] { return cands[follower]->leading.load(); }, 20s));
  auto failover = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - cutAt);
  EXPECT_EQ(cands[leader]->stoppedLeading.load(), 1);
  EXPECT_FALSE(overlap.load()) << "two leaders at once";
  std::printf("leader failover took %lld ms (lease duration 3000 ms, retry period 500 ms)\n",
              static_cast<long long>(failover.count()));
  EXPECT_EQ(kubectlGet("lease/osmosis-leader", "{.spec.holderIdentity}"), leader == 0 ? "b" : "a");

  // A clean stop releases the lease at once.
  cands[follower]->stop.stop();
  cands[follower]->thread.join();
  EXPECT_EQ(kubectlGet("lease/osmosis-leader", "{.spec.holderIdentity}"), "");
  cands[leader]->stop.stop();
  cands[leader]->thread.join();
}

TEST(KubeWatchCompaction, WatchFromACompactedResourceVersionRelistsWithNothingMissed) {
  // Watches served straight from etcd (no watch cache), so compaction shows as 410 Gone.
  auto cp = ControlPlane::start({{"--watch-cache=false"}});
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  auto& plane = *cp.value();
  std::string ns = plane.createNamespace("compact");
  ASSERT_FALSE(ns.empty());
  testing::TcpProxy proxy(plane.apiserverPort());
  auto client = makeClient(adminConfig(plane, proxy.port()));
  InformerOptions o;
  o.backoff = {100ms, 2.0, 0.5, 1000ms};
  Informer informer(*client, resources::configMaps(), ns, o);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  ASSERT_EQ(plane.kubectl({"create", "configmap", "-n", ns, "old", "--from-literal=v=1"}).code, 0);
  informer.start();
  ASSERT_TRUE(informer.waitForSync(10s));
  ASSERT_TRUE(eventually([&] { return rec.has("add old=1"); }, 10s));

  proxy.cut();
  ASSERT_EQ(plane.kubectl({"create", "configmap", "-n", ns, "new", "--from-literal=v=1"}).code, 0);
  ASSERT_EQ(plane.kubectl({"delete", "configmap", "-n", ns, "old"}).code, 0);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        plane.kubectl({"create", "configmap", "-n", "default", "churn-" + std::to_string(i)}).code,
        0);
  }
  auto rev = plane.compactEtcd();
  ASSERT_TRUE(rev.ok()) << rev.error().message;
  proxy.restore();

  EXPECT_TRUE(eventually([&] { return rec.has("add new=1") && rec.has("delete old=1"); }, 30s))
      << ::testing::PrintToString(rec.snapshot());
  EXPECT_GE(informer.stats().relistsAfterGone, 1u)
      << "the watch should have been refused as too old";
  EXPECT_EQ(informer.store().size(), 1u);
  informer.stop();
}

}  // namespace
}  // namespace osmosis::kube
