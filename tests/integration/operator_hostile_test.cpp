// Hostile input at the operator (issue 16), against a real kube-apiserver and nats-server,
// checked with kubectl, curl and the nats CLI: reports that must neither stop nor steer it
// (items 3, 12, 19), Secrets that must not leak (item 9) nor pile up connections (item 15).

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/log/logger.hpp"
#include "common/nats/connection.hpp"
#include "common/report/report.hpp"
#include "tests/fixtures/operator_fixture.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::eventually;
using testing::kConverge;

class OperatorHostileTest : public testing::OperatorTest {
 protected:
  // A Deployment nothing runs (no kubelet here): only its /scale matters.
  void applyDeployment(const std::string& name) {
    ASSERT_EQ(apply("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name +
                    "}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: " + name +
                    "}}\n  template:\n    metadata: {labels: {app: " + name +
                    "}}\n    spec: {containers: [{name: w, image: example.invalid/w}]}\n")
                  .code,
              0);
  }
  int replicas(const std::string& deployment) {
    return get("deployment", deployment)["spec"].value("replicas", 0);
  }
  std::string reportSubject(const std::string& channel) {
    return "osmosis.report." + ns_ + "." + channel;
  }
  // The value of one series in Prometheus text, or -1 when absent.
  double metric(const std::string& text, const std::string& series) {
    size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }
};

TEST_F(OperatorHostileTest, ReportsCanNeitherStopNorSteerTheOperator) {
  applyDeployment("worker");
  ASSERT_EQ(apply(manifest("orders",
                           "  worker: {scaleTargetRef: {name: worker}}\n"
                           "  scaling: {minReplicas: 0, maxReplicas: 5, targetBacklogPerReplica: "
                           "10, scaleToZeroAfterSeconds: 0}\n"))
                .code,
            0);
  waitCondition("orders", "Ready", "True");
  waitCondition("orders", "ScalingActive", "True");

  // Item 3: a time the clock cannot hold killed the operator. Item 19: nonsense accepted.
  // Item 12: a fake pod at 1e18 scaled to the maximum; unique names grew memory without bound.
  const std::string base = R"({"schemaVersion":1,"namespace":")" + ns_ +
                           R"(","channel":"orders","version":"1","processed":0,"failed":0,)"
                           R"("inFlight":0,"rate":0,"sequence":1,)";
  const std::string now = log::formatTime(std::chrono::system_clock::now());
  for (
      const std::string& hostile :
      {base + R"("pod":"x","time":"9999-12-31T23:59:59.999Z"})",
       base + R"("pod":"x","time":"0001-01-01T00:00:00.000Z"})",
       base + R"("pod":")" + std::string(100 * 1024, 'a') +
           R"(","time":"2026-01-01T00:00:00.000Z"})",
       base +
           R"("pod":"fake","pending":1000000000000000000,"ackPending":0,"redelivered":0,"time":")" +
           now + "\"}"}) {
    auto r = nats({"pub", reportSubject("orders"), hostile});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  auto flood =
      nats({"pub", reportSubject("orders"),
            base + R"("pod":"fake-{{ Count }}","time":")" + now + "\"}", "--count", "2000"});
  ASSERT_EQ(flood.code, 0) << flood.err;
  std::string m;
  ASSERT_TRUE(eventually(
      [&] {
        m = operatorHttp("/metrics");
        return metric(m, "osmosis_reports_total{channel=\"" + ns_ +
                             "/orders\",result=\"malformed\"}") >= 3;
      },
      kConverge, 200ms))
      << m;
  EXPECT_TRUE(op_.running());
  EXPECT_NE(operatorHttp("/healthz").find("\n200"), std::string::npos);
  EXPECT_EQ(replicas("worker"), 0) << "no report may scale an idle channel up";

  // A pod of the target that reports "nothing to do" while 30 messages wait: the operator's own
  // reading of the consumer is a floor, so the workers are scaled anyway.
  ASSERT_EQ(apply("apiVersion: v1\nkind: Pod\nmetadata: {name: worker-real, labels: {app: "
                  "worker}}\nspec: {containers: [{name: w, image: example.invalid/w}]}\n")
                .code,
            0);
  nats::ConnectionOptions o;
  o.urls = {nats_.url()};
  auto conn = nats::Connection::connect(o);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  std::atomic<bool> stop{false};
  std::thread liar([&] {
    report::Report r;
    r.namespace_ = ns_;
    r.channel = "orders";
    r.pod = "worker-real";
    r.version = "liar";
    r.figures = report::ConsumerFigures{0, 0, 0};
    while (!stop) {
      ++r.sequence;
      r.time = std::chrono::system_clock::now();
      (void)conn.value()->publish(reportSubject("orders"), report::toJson(r));
      std::this_thread::sleep_for(200ms);  // a report rate, not a synchronisation
    }
  });
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(nats({"pub", ns_ + ".orders.new", "m"}).code, 0);
  bool scaled = eventually([&] { return replicas("worker") == 3; }, kConverge, 200ms);
  stop = true;
  liar.join();
  EXPECT_TRUE(scaled) << "replicas " << replicas("worker") << "\n" << operatorHttp("/metrics");
  m = operatorHttp("/metrics");
  EXPECT_GE(metric(m, "osmosis_reports_total{channel=\"" + ns_ + "/orders\",result=\"accepted\"}"),
            1)
      << m;
  EXPECT_GE(
      metric(m, "osmosis_reports_total{channel=\"" + ns_ + "/orders\",result=\"unknown_pod\"}"), 1)
      << m;
}

// Item 15: every distinct Secret content opened a NATS connection that was never closed.
TEST_F(OperatorHostileTest, RotatingASecretKeepsOneConnection) {
  auto secret = [&](int i) {
    return "apiVersion: v1\nkind: Secret\nmetadata: {name: conn}\ndata: {url: " +
           testing::base64(nats_.url()) + ", token: " + testing::base64("t" + std::to_string(i)) +
           "}\n";
  };
  ASSERT_EQ(apply(secret(0)).code, 0);
  ASSERT_EQ(apply(manifest("orders", "  nats: {secretRef: {name: conn}}\n")).code, 0);
  waitCondition("orders", "Ready", "True");
  auto connectsForSecret = [&] {
    size_t n = 0, at = 0;
    const std::string log = operatorLog();
    const std::string needle = "\"for\":\"Secret " + ns_ + "/conn\"";
    while ((at = log.find(needle, at)) != std::string::npos) {
      ++n;
      ++at;
    }
    return n;
  };
  for (int i = 1; i <= 20; ++i) {
    const size_t before = connectsForSecret();
    ASSERT_EQ(apply(secret(i)).code, 0);
    ASSERT_TRUE(eventually([&] { return connectsForSecret() > before; }, kConverge, 100ms))
        << "rotation " << i << " not picked up";
  }
  std::string m;
  EXPECT_TRUE(eventually(
      [&] {
        m = operatorHttp("/metrics");
        double open = metric(m, "osmosis_nats_connections");
        return open >= 1 && open <= 2;  // the default one (idle) and the Secret's current one
      },
      kConverge, 200ms))
      << m;
  waitCondition("orders", "Ready", "True");
}

// Item 9: credentials in URLs reached status, Events, logs and injected Deployments.
TEST_F(OperatorHostileTest, CredentialsNeverReachStatusEventsLogsOrDeployments) {
  testing::NatsServer authNats({"", {"--user", "alice", "--pass", "s3cretpw"}, 15000ms});
  ASSERT_TRUE(authNats.start().ok()) << authNats.log();
  applyDeployment("worker");
  const std::string unreachable =
      "nats://alice:s3cretpw@127.0.0.1:" + std::to_string(testing::freePort());
  ASSERT_EQ(apply("apiVersion: v1\nkind: Secret\nmetadata: {name: down}\ndata: {url: " +
                  testing::base64(unreachable) +
                  "}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: good}\ndata: {url: " +
                  testing::base64(authNats.url()) + ", user: " + testing::base64("alice") +
                  ", password: " + testing::base64("s3cretpw") + "}\n")
                .code,
            0);
  ASSERT_EQ(apply(manifest("down", "  nats: {secretRef: {name: down}}\n")).code, 0);
  ASSERT_EQ(apply(manifest("up",
                           "  nats: {secretRef: {name: good}}\n"
                           "  worker: {scaleTargetRef: {name: worker}, injectSidecar: true}\n"))
                .code,
            0);
  json down = waitCondition("down", "Ready", "False", "NatsUnavailable");
  EXPECT_NE(down.value("message", "").find("REDACTED@127.0.0.1"), std::string::npos) << down.dump();
  waitCondition("up", "Ready", "True");
  ASSERT_TRUE(eventually(
      [&] {
        return get("deployment", "worker").dump().find("osmosis-sidecar") != std::string::npos;
      },
      kConverge, 200ms));
  waitEvent("down", "NatsUnavailable");

  const std::string deployment = kubectl({"get", "deployment", "worker", "-o", "json"}).out;
  EXPECT_NE(deployment.find("secretKeyRef"), std::string::npos) << deployment;
  for (const auto& [what, text] : std::vector<std::pair<std::string, std::string>>{
           {"status", kubectl({"get", "channels", "-o", "json"}).out},
           {"events", kubectl({"get", "events", "-o", "json"}).out},
           {"deployment", deployment},
           {"operator log", operatorLog()}}) {
    EXPECT_EQ(text.find("s3cretpw"), std::string::npos) << "the password is in the " << what;
  }
}

}  // namespace
}  // namespace osmosis
