// Autoscaling end to end: the osmosis-operator binary, a real kube-apiserver and nats-server,
// and osmosis-pod-runner standing in for the kubelet (it runs a real sidecar + app per replica
// of the Deployment and writes its status). Checked with kubectl: replicas and Events.

#include <csignal>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "common/nats/connection.hpp"
#include "tests/fixtures/operator_fixture.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::eventually;
using testing::kConverge;

class AutoscaleTest : public testing::OperatorTest {
 protected:
  std::vector<std::string> operatorArgs() const override {
    return {"--scale-down-step-interval", "1s"};
  }

  void TearDown() override {
    if (runner_.running()) {
      runner_.signal(SIGTERM);
      if (!runner_.waitFor(30s)) runner_.kill();
    }
    if (HasFailure())
      std::printf("--- pod runner log ---\n%s\n", testing::readFile(dir_ + "/runner.out").c_str());
    OperatorTest::TearDown();
  }

  void startRunner(int appDelayMs) {
    auto child = ChildProcess::spawn({{OSMOSIS_POD_RUNNER_BIN,
                                       "--kubeconfig",
                                       cp_->kubeconfig(),
                                       "--namespace",
                                       ns_,
                                       "--deployment",
                                       "worker",
                                       "--channel",
                                       "orders",
                                       "--stream",
                                       stream("orders"),
                                       "--nats-url",
                                       nats_.url(),
                                       "--sidecar-bin",
                                       OSMOSIS_SIDECAR_BIN,
                                       "--app-bin",
                                       OSMOSIS_TEST_APP_BIN,
                                       "--dir",
                                       dir_ + "/pods",
                                       "--app-delay-ms",
                                       std::to_string(appDelayMs),
                                       "--concurrency",
                                       "4",
                                       "--grace-seconds",
                                       "10"},
                                      {},
                                      dir_ + "/runner.out",
                                      dir_ + "/runner.err"});
    ASSERT_TRUE(child.ok());
    runner_ = std::move(child.value());
  }

  int replicas() {
    auto r = kubectl({"get", "deployment", "worker", "-o", "jsonpath={.spec.replicas}"});
    return r.code == 0 && !r.out.empty() ? std::stoi(r.out) : -1;
  }

  // Every id the apps answered 2xx for, over all pods' records.
  std::set<std::string> processedIds() {
    std::set<std::string> ids;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/pods", ec)) {
      if (e.path().extension() != ".jsonl") continue;
      std::stringstream ss(testing::readFile(e.path()));
      for (std::string line; std::getline(ss, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.value("ev", "") == "done" && j.value("status", 0) / 100 == 2)
          ids.insert(j.value("id", ""));
      }
    }
    return ids;
  }

  void publish(const std::string& id) {
    auto r = nats({"pub", ns_ + ".orders.new", "id=" + id});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  void applyChannel(const std::string& scaling) {
    ASSERT_EQ(apply(testing::kWorkerDeployment).code, 0);
    ASSERT_EQ(apply(manifest("orders",
                             "  worker:\n    scaleTargetRef: {name: worker}\n"
                             "  scaling:\n" +
                                 scaling))
                  .code,
              0);
    waitCondition("orders", "Ready", "True");
  }

  ChildProcess runner_;
};

TEST_F(AutoscaleTest, ActivatesFromZeroScalesUpOnABurstAndBackToZeroWithoutLosingAMessage) {
  applyChannel(R"(    minReplicas: 0
    maxReplicas: 4
    targetBacklogPerReplica: 20
    scaleToZeroAfterSeconds: 3
    scaleDown: {stabilizationSeconds: 3, maxStepPercent: 50}
)");
  waitCondition("orders", "ScalingActive", "True");
  startRunner(20);
  EXPECT_EQ(replicas(), 0);

  // The first message at zero wakes the target without a poll period.
  auto t0 = std::chrono::steady_clock::now();
  publish("first");
  ASSERT_TRUE(eventually([&] { return replicas() >= 1; }, kConverge, 50ms));
  auto activation = std::chrono::steady_clock::now() - t0;
  std::printf("first message at zero -> replicas 1: %lld ms (kubectl polling included)\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(activation).count()));
  waitEvent("orders", "Activated");
  ASSERT_TRUE(eventually([&] { return processedIds().count("first") == 1; }, kConverge, 100ms));

  // A burst: 300 messages of 20 ms each at concurrency 4 is 1.5 s of work for one pod, and a
  // backlog of 300 asks for 300/20 -> capped at 4 replicas.
  {
    nats::ConnectionOptions o;
    o.urls = {nats_.url()};
    auto conn = nats::Connection::connect(o);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    for (int i = 1; i <= 300; ++i)
      ASSERT_TRUE(conn.value()->publish(ns_ + ".orders.new", "id=b" + std::to_string(i)).ok());
    ASSERT_TRUE(conn.value()->flush(5s).ok());
  }
  ASSERT_TRUE(eventually([&] { return replicas() >= 2; }, kConverge, 50ms))
      << "no scale-up on a backlog of 300";
  waitEvent("orders", "ScaledUp");
  auto up = eventMessages("orders", "ScaledUp");
  ASSERT_FALSE(up.empty());
  EXPECT_NE(up.front().find("worker "), std::string::npos) << up.front();
  EXPECT_NE(up.front().find("backlog"), std::string::npos) << up.front();

  // Drained, then back to zero after the window and the idle period.
  std::set<std::string> want = {"first"};
  for (int i = 1; i <= 300; ++i)
    want.insert("b" + std::to_string(i));
  ASSERT_TRUE(eventually(
      [&] {
        auto got = processedIds();
        return std::includes(got.begin(), got.end(), want.begin(), want.end());
      },
      90s, 200ms))
      << "processed " << processedIds().size() << " of " << want.size();
  ASSERT_TRUE(eventually([&] { return replicas() == 0; }, 60s, 200ms)) << "still at " << replicas();
  waitEvent("orders", "ScaledToZero");
  json st = channel("orders")["status"];
  EXPECT_EQ(st["lastScale"].value("to", -1), 0) << st.dump();
  EXPECT_EQ(st["replicas"].value("desired", -1), 0) << st.dump();
  // The pods the runner stopped drained and exited 0 (nothing was cut off mid-message).
  std::string log = testing::readFile(dir_ + "/runner.out");
  EXPECT_EQ(log.find("killed after the grace period"), std::string::npos) << log;
  // The pod runner wrote the Deployment's status: no pods left (0 is omitted by the API).
  EXPECT_TRUE(eventually(
      [&] {
        auto out =
            kubectl({"get", "deployment", "worker", "-o", "jsonpath={.status.replicas}"}).out;
        return out.empty() || out == "0";
      },
      kConverge, 200ms));
}

TEST_F(AutoscaleTest, MinReplicasIsKeptAndPausedScalingLeavesTheTargetAlone) {
  applyChannel("    minReplicas: 2\n    maxReplicas: 3\n");
  ASSERT_TRUE(eventually([&] { return replicas() == 2; }, kConverge, 100ms))
      << "minReplicas not applied: " << replicas();
  ASSERT_EQ(kubectl({"annotate", "channel", "orders", "osmosis.dev/scaling-paused=true"}).code, 0);
  waitCondition("orders", "ScalingActive", "False", "Paused");
  ASSERT_EQ(kubectl({"scale", "deployment", "worker", "--replicas", "1"}).code, 0);
  // Paused: 1 stays 1 although minReplicas is 2 (held for several evaluations).
  EXPECT_FALSE(eventually([&] { return replicas() != 1; }, 3s, 200ms));
  ASSERT_EQ(kubectl({"annotate", "channel", "orders", "osmosis.dev/scaling-paused-"}).code, 0);
  EXPECT_TRUE(eventually([&] { return replicas() == 2; }, kConverge, 100ms));
  waitCondition("orders", "ScalingActive", "True");
}

TEST_F(AutoscaleTest, AnHpaOnTheSameTargetIsReportedAndNotFought) {
  ASSERT_EQ(apply(R"(apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: cpu}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: worker}
  minReplicas: 1
  maxReplicas: 3
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
)")
                .code,
            0);
  applyChannel("    minReplicas: 2\n    maxReplicas: 3\n");
  json c = waitCondition("orders", "ScalingActive", "False", "ConflictingAutoscaler");
  EXPECT_NE(c.value("message", "").find("cpu"), std::string::npos) << c.dump();
  EXPECT_FALSE(eventually([&] { return replicas() != 0; }, 3s, 200ms))
      << "Osmosis scaled a target an HPA owns";
}

TEST_F(AutoscaleTest, InjectsTheSidecarAsANativeSidecarAndRemovesItWhenNoLongerAsked) {
  ASSERT_EQ(apply(testing::kWorkerDeployment).code, 0);
  ASSERT_EQ(apply(manifest("orders",
                           "  worker:\n    scaleTargetRef: {name: worker}\n"
                           "    injectSidecar: true\n    app: {port: 9000}\n"))
                .code,
            0);
  auto sidecar = [&]() -> json {
    json d = get("deployment", "worker");
    for (const auto& c : d["spec"]["template"]["spec"].value("initContainers", json::array()))
      if (c.value("name", "") == "osmosis-sidecar") return c;
    return json();
  };
  ASSERT_TRUE(eventually([&] { return sidecar().is_object(); }, kConverge, 200ms))
      << get("deployment", "worker").dump();
  json c = sidecar();
  EXPECT_EQ(c.value("restartPolicy", ""), "Always");
  bool channelEnv = false;
  for (const auto& e : c["env"])
    channelEnv = channelEnv || (e["name"] == "OSMOSIS_CHANNEL" && e["value"] == "orders");
  EXPECT_TRUE(channelEnv) << c.dump();
  json d = json::parse(
      kubectl({"get", "deployment", "worker", "-o", "json", "--show-managed-fields"}).out);
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["name"], "app") << "user's container";
  bool owned = false;
  for (const auto& m : d["metadata"]["managedFields"])
    owned = owned || m.value("manager", "") == "osmosis-injector";
  EXPECT_TRUE(owned);
  waitEvent("orders", "SidecarInjected");
  EXPECT_EQ(channel("orders")["status"].value("sidecarInjectedInto", ""), "Deployment/worker");

  ASSERT_EQ(kubectl({"patch", "channel", "orders", "--type", "merge", "-p",
                     R"({"spec":{"worker":{"injectSidecar":false}}})"})
                .code,
            0);
  EXPECT_TRUE(eventually([&] { return sidecar().is_null(); }, kConverge, 200ms));
  waitEvent("orders", "SidecarRemoved");
  EXPECT_EQ(get("deployment", "worker")["spec"]["template"]["spec"]["containers"].size(), 1u);
  EXPECT_FALSE(channel("orders")["status"].contains("sidecarInjectedInto"));
}

TEST_F(AutoscaleTest, AMissingTargetIsACondition) {
  ASSERT_EQ(apply(manifest("orders", "  worker:\n    scaleTargetRef: {name: nowhere}\n")).code, 0);
  json c = waitCondition("orders", "ScalingActive", "False", "TargetNotFound");
  EXPECT_NE(c.value("message", "").find("nowhere"), std::string::npos) << c.dump();
  // The Channel itself is still provisioned.
  EXPECT_EQ(condition("orders", "Ready").value("status", ""), "True");
}

}  // namespace
}  // namespace osmosis
