// Autoscaling reaction benchmark (not a test). Real kube-apiserver + etcd, real nats-server,
// the osmosis-operator binary and osmosis-pod-runner (local sidecar + app pairs per replica):
//   - burst: with the Deployment at 1 replica, publish a burst; time from the last message
//     being flushed to spec.replicas changing (read from /scale every 5 ms); repeated;
//   - activation: at 0 replicas, publish one message; time to spec.replicas = 1; repeated.
// p50/p95 to a results file.
//
//   osmosis_autoscale_bench OPERATOR_BIN POD_RUNNER_BIN SIDECAR_BIN APP_BIN RESULTS [ROUNDS]

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/nats/connection.hpp"
#include "hack/bench/bench_common.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "tests/fixtures/control_plane.hpp"
#include "tests/fixtures/nats_server.hpp"

using namespace osmosis;
using namespace std::chrono;
using nlohmann::json;

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: %s OPERATOR_BIN POD_RUNNER_BIN SIDECAR_BIN APP_BIN RESULTS [ROUNDS]\n",
                 argv[0]);
    return 2;
  }
  const std::string operatorBin = argv[1], runnerBin = argv[2], sidecarBin = argv[3],
                    appBin = argv[4], resultsFile = argv[5];
  const int rounds = argc > 6 ? std::atoi(argv[6]) : 10;
  bench::Report report;
  char buf[512];
  auto say = [&](const std::string& line) { report.say(line); };
  auto cp = bench::controlPlaneWithChannels();
  if (!cp) return 1;
  auto& plane = *cp;
  testing::NatsServer natsServer;
  if (!bench::startNats(natsServer)) return 1;
  std::string ns = plane.createNamespace("bench");
  std::string dir = testing::makeTempDir("osmosis-scalebench");
  auto kubectl = bench::kubectlIn(plane, ns);
  kubectl({"apply", "-f", "-"}, testing::placeholderWorker(1) + R"(---
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec:
  worker: {scaleTargetRef: {name: worker}}
  scaling:
    minReplicas: 1
    maxReplicas: 8
    targetBacklogPerReplica: 50
    scaleToZeroAfterSeconds: 2
    scaleDown: {stabilizationSeconds: 2, maxStepPercent: 100}
)");
  auto op = testing::ChildProcess::spawn(
      {{operatorBin, "--kubeconfig", plane.kubeconfig(), "--leader-elect=false",
        "--watch-namespace", ns, "--nats-url", natsServer.url(), "--http-address", "127.0.0.1:0",
        "--scale-down-step-interval", "1s", "--log-level", "warn"},
       {},
       dir + "/op.out",
       dir + "/op.err"});
  std::string streamName = ns + "_ORDERS";
  std::transform(streamName.begin(), streamName.end(), streamName.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  auto runner = testing::ChildProcess::spawn({{runnerBin,
                                               "--kubeconfig",
                                               plane.kubeconfig(),
                                               "--namespace",
                                               ns,
                                               "--deployment",
                                               "worker",
                                               "--channel",
                                               "orders",
                                               "--stream",
                                               streamName,
                                               "--nats-url",
                                               natsServer.url(),
                                               "--sidecar-bin",
                                               sidecarBin,
                                               "--app-bin",
                                               appBin,
                                               "--dir",
                                               dir + "/pods",
                                               "--app-delay-ms",
                                               "5",
                                               "--concurrency",
                                               "4",
                                               "--grace-seconds",
                                               "5",
                                               "--sidecar-arg=--log-level=warn"},
                                              {},
                                              dir + "/runner.out",
                                              dir + "/runner.err"});
  if (!op || !runner) {
    std::fprintf(stderr, "cannot start the operator or the pod runner\n");
    return 1;
  }

  auto cfg = kube::loadKubeconfig({plane.kubeconfig()}, "");
  kube::ClientOptions unlimited;
  unlimited.qps = 0;
  kube::Client client(kube::makeCpprestTransport(cfg.value(), {}), unlimited);
  auto replicas = [&] {
    auto s = client.getScale(kube::resources::deployments(), ns, "worker");
    // 0 replicas is omitted from the Scale's spec.
    return s ? s->value("spec", json::object()).value("replicas", 0) : -1;
  };
  auto waitReplicas = [&](auto pred, milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    int r = replicas();
    while (!pred(r) && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
      r = replicas();
    }
    return pred(r);
  };
  nats::ConnectionOptions no;
  no.urls = {natsServer.url()};
  auto conn = nats::Connection::connect(no);
  if (!conn) return 1;
  // Ready and scaling at 1 replica with its pod reporting.
  bool ready = testing::eventually(
      [&] {
        auto r = kubectl({"get", "channel", "orders", "-o",
                          "jsonpath={.status.conditions[?(@.type==\"ScalingActive\")].status}"});
        return r.out == "True";
      },
      seconds(60), milliseconds(200));
  if (!ready) {
    std::fprintf(stderr, "Channel not scaling:\n%s\n", testing::readFile(dir + "/op.out").c_str());
    return 1;
  }
  std::this_thread::sleep_for(seconds(3));  // the first pod's sidecar reports

  say("autoscaling reaction benchmark: " + std::to_string(rounds) +
      " rounds each, operator + pod runner + kube-apiserver + nats-server on loopback, " +
      std::to_string(std::thread::hardware_concurrency()) + " cores");
  std::vector<double> burstMs, activationMs;
  int msgId = 0;
  for (int i = 0; i < rounds; ++i) {
    if (!waitReplicas([](int r) { return r == 1; }, seconds(60))) {
      say("round " + std::to_string(i) + ": did not settle at 1 replica");
      continue;
    }
    std::this_thread::sleep_for(seconds(1));
    for (int m = 0; m < 400; ++m)
      (void)conn.value()->publish(ns + ".orders.new", "id=m" + std::to_string(++msgId));
    (void)conn.value()->flush(seconds(5));
    auto t0 = steady_clock::now();
    if (waitReplicas([](int r) { return r > 1; }, seconds(30)))
      burstMs.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
  }
  // Activation from zero: let it go to zero (minReplicas 0), then one message at a time.
  kubectl({"patch", "channel", "orders", "--type", "merge", "-p",
           R"({"spec":{"scaling":{"minReplicas":0}}})"});
  for (int i = 0; i < rounds; ++i) {
    if (!waitReplicas([](int r) { return r == 0; }, seconds(90))) {
      say("activation round " + std::to_string(i) + ": did not reach 0");
      continue;
    }
    std::this_thread::sleep_for(seconds(1));
    (void)conn.value()->publish(ns + ".orders.new", "id=z" + std::to_string(i));
    (void)conn.value()->flush(seconds(5));
    auto t0 = steady_clock::now();
    if (waitReplicas([](int r) { return r >= 1; }, seconds(30)))
      activationMs.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
  }
  std::snprintf(buf, sizeof buf,
                "burst of 400 at 1 replica -> replicas change: p50 %.0f ms, p95 %.0f ms, max %.0f "
                "ms (%zu/%d rounds; target p95 <= 1000 ms)",
                bench::percentile(burstMs, 0.5), bench::percentile(burstMs, 0.95),
                bench::percentile(burstMs, 1.0), burstMs.size(), rounds);
  say(buf);
  std::snprintf(buf, sizeof buf,
                "first message at 0 replicas -> replicas 1: p50 %.0f ms, p95 %.0f ms, max %.0f "
                "ms (%zu/%d rounds; target <= 1000 ms)",
                bench::percentile(activationMs, 0.5), bench::percentile(activationMs, 0.95),
                bench::percentile(activationMs, 1.0), activationMs.size(), rounds);
  say(buf);
  say("for reference, KEDA's defaults: pollingInterval 30 s + HPA sync 15 s before a change "
      "(not measured here)");
  runner->signal(SIGTERM);
  runner->waitFor(seconds(30));
  op->signal(SIGTERM);
  op->waitFor(seconds(30));
  report.write(resultsFile);
  return 0;
}
