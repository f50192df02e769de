// Channel provisioning benchmark (not a test). Against a real kube-apiserver + etcd and a real
// nats-server on loopback, in one run:
//   raw:      for N Channel objects, the same work done directly: create the object, create the
//             stream and the durable consumer, write the status (as fast as it goes, W threads);
//   operator: N Channel objects applied at once (W threads), osmosis-operator provisions them;
//             time until every one is Ready, and the operator's peak RSS and CPU seconds.
//
//   osmosis_channels_bench OPERATOR_BIN RESULTS_FILE [CHANNELS] [WORKERS]

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
#include "hack/bench/bench_common.hpp"
#include "operator/kube/cache/informer.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "tests/fixtures/control_plane.hpp"
#include "tests/fixtures/nats_server.hpp"

using namespace osmosis;
using namespace std::chrono;
using nlohmann::json;

namespace {

json channel(const std::string& ns, int i) {
  return {{"apiVersion", "osmosis.dev/v1alpha1"},
          {"kind", "Channel"},
          {"metadata", {{"name", "c-" + std::to_string(i)}, {"namespace", ns}}},
          {"spec", json::object()}};
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OPERATOR_BIN RESULTS_FILE [CHANNELS] [WORKERS]\n", argv[0]);
    return 2;
  }
  const std::string operatorBin = argv[1];
  const std::string resultsFile = argv[2];
  const int n = argc > 3 ? std::atoi(argv[3]) : 1000;
  const int workers = argc > 4 ? std::atoi(argv[4]) : 4;
  bench::Report report;
  char buf[512];
  auto say = [&](const std::string& line) { report.say(line); };
  auto cp = bench::controlPlaneWithChannels();
  if (!cp) return 1;
  auto& plane = *cp;
  testing::NatsServer natsServer;
  if (!bench::startNats(natsServer)) return 1;
  auto cfg = kube::loadKubeconfig({plane.kubeconfig()}, "");
  kube::ClientOptions unlimited;
  unlimited.qps = 0;  // measure the servers, not a client-side limiter
  kube::Client client(kube::makeCpprestTransport(cfg.value(), {}), unlimited);
  const auto& channels = kube::resources::channels();

  say("Channel provisioning benchmark: " + std::to_string(n) + " Channels, " +
      std::to_string(workers) + " workers, kube-apiserver + etcd + nats-server (" +
      natsServer.binary() + ") on loopback, " +
      std::to_string(std::thread::hardware_concurrency()) + " cores");

  // --- raw: the same API and NATS work, done directly ---------------------------------
  std::string rawNs = plane.createNamespace("raw");
  nats::ConnectionOptions no;
  no.urls = {natsServer.url()};
  auto conn = nats::Connection::connect(no);
  if (!conn) {
    std::fprintf(stderr, "nats: %s\n", conn.error().message.c_str());
    return 1;
  }
  auto js = nats::JetStream::create(conn.value(), seconds(5));
  std::atomic<int> rawFailures{0};
  auto t0 = steady_clock::now();
  bench::parallel(n, workers, [&](int i) {
    std::string name = "c-" + std::to_string(i);
    if (!client.create(channels, rawNs, channel(rawNs, i))) return void(++rawFailures);
    nats::StreamConfig sc;
    sc.name = upper(rawNs + "_" + name);
    sc.subjects = {rawNs + "." + name + ".>"};
    if (!js->addStream(sc)) return void(++rawFailures);
    nats::ConsumerConfig cc;
    cc.durable = "workers";
    cc.maxDeliver = 5;
    if (!js->addOrUpdateConsumer(sc.name, cc)) return void(++rawFailures);
    json status = {
        {"status",
         {{"observedGeneration", 1},
          {"stream", sc.name},
          {"conditions", json::array({{{"type", "Ready"},
                                       {"status", "True"},
                                       {"reason", "Provisioned"},
                                       {"message", "raw"},
                                       {"lastTransitionTime", "2026-01-01T00:00:00Z"}}})}}}};
    kube::PatchOptions po;
    po.subresource = "status";
    if (!client.patch(channels, rawNs, name, kube::PatchType::kMerge, status, po)) ++rawFailures;
  });
  double rawS = duration<double>(steady_clock::now() - t0).count();
  std::snprintf(buf, sizeof buf,
                "raw (create object + stream + consumer + status write): %.2f s (%.0f Channels/s), "
                "%d failures",
                rawS, n / rawS, rawFailures.load());
  say(buf);

  // --- the operator --------------------------------------------------------------------
  std::string ns = plane.createNamespace("op");
  std::string dir = testing::makeTempDir("osmosis-chbench");
  auto op = testing::ChildProcess::spawn(
      {{operatorBin, "--kubeconfig", plane.kubeconfig(), "--leader-elect=false",
        "--watch-namespace", ns, "--nats-url", natsServer.url(), "--http-address", "127.0.0.1:0",
        "--workers", std::to_string(workers), "--kube-api-qps", "1000", "--kube-api-burst", "2000",
        "--log-level", "warn"},
       {},
       dir + "/op.out",
       dir + "/op.err"});
  if (!op) {
    std::fprintf(stderr, "cannot start the operator\n");
    return 1;
  }
  // Watch readiness with an informer (no polling load on the API server).
  kube::Informer watcher(client, channels, ns);
  watcher.start();
  watcher.waitForSync(seconds(30));
  std::this_thread::sleep_for(seconds(2));  // let the operator start and sync (idle cost below)
  bench::Usage idle = bench::usageOf(op->pid());

  auto t1 = steady_clock::now();
  std::atomic<int> applyFailures{0};
  bench::parallel(n, workers, [&](int i) {
    if (!client.create(channels, ns, channel(ns, i))) ++applyFailures;
  });
  double applyS = duration<double>(steady_clock::now() - t1).count();
  auto readyCount = [&] {
    int ready = 0;
    for (const auto& obj : watcher.store().list()) {
      json conditions = obj->value("status", json::object()).value("conditions", json::array());
      for (const auto& c : conditions)
        if (c.value("type", "") == "Ready" && c.value("status", "") == "True") ++ready;
    }
    return ready;
  };
  int ready = 0;
  while ((ready = readyCount()) < n && steady_clock::now() - t1 < minutes(15))
    std::this_thread::sleep_for(milliseconds(20));
  double opS = duration<double>(steady_clock::now() - t1).count();
  bench::Usage busy = bench::usageOf(op->pid());
  std::snprintf(buf, sizeof buf,
                "operator: %d/%d Ready %.2f s after the first apply (applying took %.2f s), %d "
                "apply failures",
                ready, n, opS, applyS, applyFailures.load());
  say(buf);
  std::snprintf(buf, sizeof buf, "ratio operator/raw: %.2f (target <= 2.0)", opS / rawS);
  say(buf);
  std::snprintf(buf, sizeof buf,
                "operator RSS: %.1f MB idle, %.1f MB peak (%.1f MB now); CPU %.1f s for the %d "
                "Channels (%.1f ms each)",
                idle.rssMb, busy.peakRssMb, busy.rssMb, busy.cpuSeconds - idle.cpuSeconds, n,
                (busy.cpuSeconds - idle.cpuSeconds) * 1000.0 / n);
  say(buf);

  // A steady state: one resync period later, the operator's CPU while idle-checking N Channels.
  bench::Usage before = bench::usageOf(op->pid());
  std::this_thread::sleep_for(seconds(30));
  bench::Usage after = bench::usageOf(op->pid());
  std::snprintf(buf, sizeof buf,
                "steady state (resync every 30 s, %d Channels): %.2f CPU s per 30 s, RSS %.1f MB",
                n, after.cpuSeconds - before.cpuSeconds, after.rssMb);
  say(buf);

  watcher.stop();
  op->signal(SIGTERM);
  auto exited = op->waitFor(seconds(30));
  say(std::string("operator exit on SIGTERM: ") +
      (exited ? std::to_string(exited->code) : std::string("did not exit")));
  report.write(resultsFile);
  return ready == n ? 0 : 1;
}
