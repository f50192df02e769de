// Informer benchmark (not a test): against a real kube-apiserver + etcd, how long an informer
// takes to list and sync N custom resources, how much memory its cache costs, how many watch
// events per second reach the handlers end to end, and how fast the watch path alone
// (line splitting + JSON decoding + cache update) runs on this machine.
//
//   osmosis_informer_bench RESULTS_FILE [OBJECTS]

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "hack/bench/bench_common.hpp"
#include "operator/kube/cache/informer.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "operator/kube/watch/line_splitter.hpp"
#include "tests/fixtures/control_plane.hpp"

using namespace osmosis;
using namespace std::chrono;
using nlohmann::json;

namespace {

double rssMb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

const char* kCrd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.bench.osmosis.dev}
spec:
  group: bench.osmosis.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
)";

json widget(const std::string& ns, int i) {
  return {{"apiVersion", "bench.osmosis.dev/v1"},
          {"kind", "Widget"},
          {"metadata",
           {{"name", "w-" + std::to_string(i)},
            {"namespace", ns},
            {"labels", {{"bench", "informer"}}}}},
          {"spec",
           {{"subjects", json::array({"shop.orders.>"})}, {"maxReplicas", 50}, {"generation", 0}}}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RESULTS_FILE [OBJECTS]\n", argv[0]);
    return 2;
  }
  const std::string resultsFile = argv[1];
  const int n = argc > 2 ? std::atoi(argv[2]) : 10000;
  bench::Report report;
  auto say = [&](const std::string& line) { report.say(line); };
  auto cp = bench::controlPlaneWithCrd(kCrd, "widgets.bench.osmosis.dev");
  if (!cp) return 1;
  auto& plane = *cp;
  std::string ns = plane.createNamespace("bench");
  auto cfg = kube::loadKubeconfig({plane.kubeconfig()}, "");
  kube::ClientOptions fast;
  fast.qps = 0;  // unlimited: measure the server, not our limiter
  kube::Client client(kube::makeCpprestTransport(cfg.value(), {}), fast);
  kube::Resource widgets{"bench.osmosis.dev", "v1", "widgets", "Widget", true};

  say("informer benchmark, " + std::to_string(n) +
      " Widget objects, kube-apiserver + etcd on loopback, " +
      std::to_string(std::thread::hardware_concurrency()) + " cores");
  auto t0 = steady_clock::now();
  std::atomic<int> failures{0};
  bench::parallel(n, 8, [&](int i) {
    if (!client.create(widgets, ns, widget(ns, i)).ok()) ++failures;
  });
  double createS = duration<double>(steady_clock::now() - t0).count();
  char buf[256];
  std::snprintf(buf, sizeof buf, "create: %d objects in %.1f s (%.0f/s, 8 threads), %d failed", n,
                createS, n / createS, failures.load());
  say(buf);

  double rssBefore = rssMb();
  kube::Informer informer(client, widgets, ns);
  std::atomic<int> updates{0};
  informer.addHandlers(
      {nullptr, [&](const kube::ObjectPtr&, const kube::ObjectPtr&) { ++updates; }, nullptr});
  auto t1 = steady_clock::now();
  informer.start();
  if (!informer.waitForSync(minutes(5))) {
    std::fprintf(stderr, "informer did not sync\n");
    return 1;
  }
  double syncS = duration<double>(steady_clock::now() - t1).count();
  double rssAfter = rssMb();
  std::snprintf(buf, sizeof buf,
                "informer start-up (paged list of 500 + cache): %.2f s for %zu objects", syncS,
                informer.store().size());
  say(buf);
  std::snprintf(buf, sizeof buf,
                "process RSS: %.1f MB before, %.1f MB after sync (cache ~%.1f KB/object)",
                rssBefore, rssAfter, (rssAfter - rssBefore) * 1024.0 / n);
  say(buf);

  // End to end: patches through the API server, counted as they reach the informer's handlers.
  const int m = std::min(n, 3000);
  auto t2 = steady_clock::now();
  bench::parallel(m, 8, [&](int i) {
    (void)client.patch(widgets, ns, "w-" + std::to_string(i), kube::PatchType::kMerge,
                       {{"spec", {{"generation", 1}}}});
  });
  while (updates.load() < m && steady_clock::now() - t2 < minutes(5))
    std::this_thread::sleep_for(milliseconds(5));
  double e2eS = duration<double>(steady_clock::now() - t2).count();
  std::snprintf(buf, sizeof buf,
                "watch end to end: %d updates seen in %.2f s (%.0f events/s; bounded by the API "
                "server's writes)",
                updates.load(), e2eS, updates.load() / e2eS);
  say(buf);
  informer.stop();

  // The watch path alone: the same objects as watch lines, split in 64 KiB chunks, decoded, cached.
  std::string stream;
  for (const auto& obj : informer.store().list()) {
    stream += json{{"type", "MODIFIED"}, {"object", *obj}}.dump() + "\n";
  }
  kube::Store store;
  kube::LineSplitter splitter;
  size_t events = 0;
  auto t3 = steady_clock::now();
  for (int round = 0; round < 5; ++round) {
    for (size_t pos = 0; pos < stream.size(); pos += 65536) {
      splitter.feed(std::string_view(stream).substr(pos, 65536), [&](std::string_view line) {
        auto ev = kube::parseWatchEvent(line);
        if (ev) store.upsert(std::move(ev->object));
        ++events;
      });
    }
  }
  double pathS = duration<double>(steady_clock::now() - t3).count();
  std::snprintf(
      buf, sizeof buf,
      "watch path alone (split + decode + cache): %zu events in %.2f s = %.0f events/s, %.1f MB/s",
      events, pathS, events / pathS,
      static_cast<double>(stream.size()) * 5 / pathS / (1024 * 1024));
  say(buf);

  report.write(resultsFile);
  return 0;
}
