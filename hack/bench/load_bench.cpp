// Operator load benchmark (not a test; issue 15). Real kube-apiserver + etcd, real nats-server
// and the osmosis-operator binary (release build) with:
//   - C Channels, each scaling its own Deployment with P Pod objects (nothing runs in them:
//     the pods are there so their reports are accepted);
//   - a load generator publishing one report per pod per second (C x P reports/s, spread
//     evenly), as P sidecars per Channel would;
//   - probes: one Channel at a time gets real backlog (messages published to its stream) and
//     its pods report it; time from the publish being flushed to the Deployment's replicas
//     changing (read from /scale every 5 ms).
// Prints: steady-state cost of the periodic checks with no reports (CPU seconds per resync
// period, NATS calls per Channel), decision latency p50/p95/max under load, the operator's CPU
// and RSS under load, what became of the reports.
//
//   osmosis_load_bench OPERATOR_BIN RESULTS [CHANNELS] [PODS] [PROBES]   (500 10 20)

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "common/nats/connection.hpp"
#include "common/report/report.hpp"
#include "hack/bench/bench_common.hpp"
#include "operator/api/naming.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "tests/fixtures/nats_server.hpp"

using namespace osmosis;
using namespace std::chrono;
using nlohmann::json;

namespace {

// The sum of every sample of `metric` in a Prometheus text page (all label sets), filtered by
// a label substring when given.
double metricSum(const std::string& page, const std::string& metric,
                 const std::string& labelPart = "") {
  double sum = 0;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(metric, 0) != 0) continue;
    const char next = line.size() > metric.size() ? line[metric.size()] : ' ';
    if (next != '{' && next != ' ') continue;
    if (!labelPart.empty() && line.find(labelPart) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::string httpGetBody(int port, const std::string& path) {
  auto r = testing::runCommand(
      {"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(port) + path});
  return r.out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OPERATOR_BIN RESULTS [CHANNELS] [PODS] [PROBES]\n", argv[0]);
    return 2;
  }
  const std::string operatorBin = argv[1], resultsFile = argv[2];
  const int channels = argc > 3 ? std::atoi(argv[3]) : 500;
  const int podsPer = argc > 4 ? std::atoi(argv[4]) : 10;
  const int probes = argc > 5 ? std::atoi(argv[5]) : 20;
  if (channels < 1 || podsPer < 1 || probes < 1) {
    std::fprintf(stderr, "CHANNELS, PODS and PROBES must be positive\n");
    return 2;
  }
  bench::Report report;
  auto cp = bench::controlPlaneWithChannels();
  if (!cp) return 1;
  auto& plane = *cp;
  testing::NatsServer natsServer;
  if (!bench::startNats(natsServer)) return 1;
  auto cfg = kube::loadKubeconfig({plane.kubeconfig()}, "");
  kube::ClientOptions unlimited;
  unlimited.qps = 0;
  kube::Client client(kube::makeCpprestTransport(cfg.value(), {}), unlimited);
  const std::string ns = plane.createNamespace("load");
  report.sayf(
      "Operator load benchmark: %d Channels x %d reporting pods (%d reports/s), %d probes, "
      "kube-apiserver + etcd + nats-server on loopback, %u cores",
      channels, podsPer, channels * podsPer, probes, std::thread::hardware_concurrency());

  // --- the objects: Deployments, their pods, Channels -------------------------------------
  auto t0 = steady_clock::now();
  std::atomic<int> failures{0};
  auto worker = [](int i) { return "w" + std::to_string(i); };
  auto channel = [](int i) { return "c" + std::to_string(i); };
  bench::parallel(channels, 8, [&](int i) {
    json labels = {{"app", worker(i)}};
    json deployment = {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", {{"name", worker(i)}}},
        {"spec",
         {{"replicas", podsPer},
          {"selector", {{"matchLabels", labels}}},
          {"template",
           {{"metadata", {{"labels", labels}}},
            {"spec",
             {{"containers",
               json::array({{{"name", "app"}, {"image", "example.invalid/w:1"}}})}}}}}}}};
    if (!client.create(kube::resources::deployments(), ns, deployment)) ++failures;
    for (int p = 0; p < podsPer; ++p) {
      json pod = {
          {"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", worker(i) + "-" + std::to_string(p)}, {"labels", labels}}},
          {"spec",
           {{"containers", json::array({{{"name", "app"}, {"image", "example.invalid/w:1"}}})}}}};
      if (!client.create(kube::resources::pods(), ns, pod)) ++failures;
    }
    json ch = {{"apiVersion", "osmosis.dev/v1alpha1"},
               {"kind", "Channel"},
               {"metadata", {{"name", channel(i)}}},
               {"spec",
                {{"worker", {{"scaleTargetRef", {{"name", worker(i)}}}}},
                 {"scaling",
                  {{"minReplicas", podsPer},
                   {"maxReplicas", podsPer * 5},
                   {"targetBacklogPerReplica", 100}}}}}};
    if (!client.create(kube::resources::channels(), ns, ch)) ++failures;
  });
  report.sayf("created %d Deployments, %d pods, %d Channels in %.1f s (%d failures)", channels,
              channels * podsPer, channels, duration<double>(steady_clock::now() - t0).count(),
              failures.load());

  // --- the operator ---------------------------------------------------------------------
  const int metricsPort = testing::freePort();
  std::string dir = testing::makeTempDir("osmosis-loadbench");
  auto op = testing::ChildProcess::spawn(
      {{operatorBin, "--kubeconfig", plane.kubeconfig(), "--leader-elect=false",
        "--watch-namespace", ns, "--nats-url", natsServer.url(), "--http-address",
        "127.0.0.1:" + std::to_string(metricsPort), "--kube-api-qps", "1000", "--kube-api-burst",
        "2000", "--log-level", "warn"},
       {},
       dir + "/op.out",
       dir + "/op.err"});
  if (!op) {
    std::fprintf(stderr, "cannot start the operator\n");
    return 1;
  }
  auto activeCount = [&] {
    int active = 0;
    auto list = client.list(kube::resources::channels(), ns);
    if (!list) return -1;
    for (const auto& obj : list->items)
      for (const auto& c : obj.value("status", json::object()).value("conditions", json::array()))
        if (c.value("type", "") == "ScalingActive" && c.value("status", "") == "True") ++active;
    return active;
  };
  t0 = steady_clock::now();
  int active = 0;
  while ((active = activeCount()) < channels && steady_clock::now() - t0 < minutes(10))
    std::this_thread::sleep_for(milliseconds(500));
  report.sayf("operator: %d/%d Channels ScalingActive %.1f s after start", active, channels,
              duration<double>(steady_clock::now() - t0).count());

  // --- steady state: no reports, one resync period ----------------------------------------
  std::this_thread::sleep_for(seconds(5));
  std::string page = httpGetBody(metricsPort, "/metrics");
  double callsBefore = metricSum(page, "osmosis_nats_calls_total");
  bench::Usage before = bench::usageOf(op->pid());
  std::this_thread::sleep_for(seconds(30));
  bench::Usage after = bench::usageOf(op->pid());
  page = httpGetBody(metricsPort, "/metrics");
  double calls = metricSum(page, "osmosis_nats_calls_total") - callsBefore;
  report.sayf(
      "steady state, no reports (%d Channels, resync 30 s): %.2f CPU s per 30 s (%.2f ms "
      "per Channel), %.1f JetStream API calls per Channel per 30 s, RSS %.1f MB",
      channels, after.cpuSeconds - before.cpuSeconds,
      (after.cpuSeconds - before.cpuSeconds) * 1000.0 / channels, calls / channels, after.rssMb);

  // --- load: every pod reports once a second ------------------------------------------------
  nats::ConnectionOptions o;
  o.urls = {natsServer.url()};
  auto conn = nats::Connection::connect(o);
  if (!conn) {
    std::fprintf(stderr, "nats: %s\n", conn.error().message.c_str());
    return 1;
  }
  std::vector<std::atomic<uint64_t>> pending(static_cast<size_t>(channels));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> seq{0};  // (one counter: every pod's sequence only grows)
  // Pod p of Channel i reports, as its sidecar would.
  auto reportFor = [&](int i, int p) {
    report::Report r;
    r.namespace_ = ns;
    r.channel = channel(i);
    r.pod = worker(i) + "-" + std::to_string(p);
    r.mode = "dispatch";
    r.stream = api::streamName(ns, channel(i));
    r.consumer = api::kConsumerName;
    r.figures = report::ConsumerFigures{pending[static_cast<size_t>(i)].load(), 0, 0};
    r.sequence = ++seq;
    r.processed = r.sequence;
    r.rate = 5;  // per pod: a probe's 2000 ask for 2000 / (5/s x 10 s) = 40 > PODS
    r.busyFraction = 0.2;
    r.concurrency = 4;
    r.ready = true;
    r.time = system_clock::now();
    r.version = "bench";
    (void)conn.value()->publish(api::reportSubject(ns, channel(i)), report::toJson(r));
    ++published;
  };
  std::thread generator([&] {
    const int total = channels * podsPer;
    const int slices = 100;  // every 10 ms, a hundredth of the pods
    auto next = steady_clock::now();
    while (!stop.load()) {
      for (int s = 0; s < slices && !stop.load(); ++s) {
        next += milliseconds(10);
        for (int k = s; k < total; k += slices)
          reportFor(k / podsPer, k % podsPer);
        std::this_thread::sleep_until(next);
      }
    }
  });

  std::this_thread::sleep_for(seconds(5));  // the reports' effect settles
  page = httpGetBody(metricsPort, "/metrics");
  const double acceptedBefore = metricSum(page, "osmosis_reports_total", "result=\"accepted\"");
  const auto evals = [](const std::string& p) {  // the autoscaler's reconciles: count, seconds
    return std::pair{
        metricSum(p, "osmosis_reconcile_duration_seconds_count", "controller=\"autoscaler\""),
        metricSum(p, "osmosis_reconcile_duration_seconds_sum", "controller=\"autoscaler\"")};
  };
  const auto evalsBefore = evals(page);
  const uint64_t publishedBefore = published.load();
  before = bench::usageOf(op->pid());
  const auto loadStart = steady_clock::now();

  std::vector<double> latencies;
  int missed = 0;
  for (int k = 0; k < probes; ++k) {
    const int i = (k * 37) % channels;  // spread over the Channels
    auto scale = [&] {
      auto s = client.getScale(kube::resources::deployments(), ns, worker(i));
      return s ? s->value("spec", json::object()).value("replicas", 0) : -1;
    };
    const int was = scale();
    // Real backlog, and the pods say so in their next reports.
    const int burst = 2000;  // at 100 per replica: asks for 20 > podsPer
    for (int m = 0; m < burst; ++m)
      (void)conn.value()->publish(ns + "." + channel(i) + ".new", "m");
    (void)conn.value()->flush(seconds(5));
    const auto flushed = steady_clock::now();
    pending[static_cast<size_t>(i)] = burst;
    // A sidecar reports at once when the backlog moves a lot (sidecar/report/reporter.hpp).
    for (int p = 0; p < podsPer; ++p)
      reportFor(i, p);
    int now = was;
    // Polled every 25 ms (the latency is over-stated by up to that): every 5 ms was 200 GETs
    // a second on the API server the operator shares, as many as the operator's own calls.
    while ((now = scale()) == was && steady_clock::now() - flushed < seconds(10))
      std::this_thread::sleep_for(milliseconds(25));
    if (now == was) {
      ++missed;
    } else {
      latencies.push_back(duration<double, std::milli>(steady_clock::now() - flushed).count());
    }
    std::this_thread::sleep_for(milliseconds(500));
  }
  const double loadSeconds = duration<double>(steady_clock::now() - loadStart).count();
  after = bench::usageOf(op->pid());
  page = httpGetBody(metricsPort, "/metrics");
  const double accepted =
      metricSum(page, "osmosis_reports_total", "result=\"accepted\"") - acceptedBefore;
  const auto evalsAfter = evals(page);
  const double rejected = metricSum(page, "osmosis_reports_total") -
                          metricSum(page, "osmosis_reports_total", "result=\"accepted\"");
  stop = true;
  generator.join();

  report.sayf(
      "load: %.0f reports/s published for %.0f s; operator accepted %.0f reports/s, %.0f "
      "reports not accepted in all",
      static_cast<double>(published.load() - publishedBefore) / loadSeconds, loadSeconds,
      accepted / loadSeconds, rejected);
  report.sayf(
      "decision latency under load (backlog flushed -> replicas changed, %d probes, %d "
      "missed): p50 %.0f ms, p95 %.0f ms, max %.0f ms (target p95 <= 1000 ms)",
      probes, missed, bench::percentile(latencies, 0.5), bench::percentile(latencies, 0.95),
      latencies.empty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end()));
  {
    std::sort(latencies.begin(), latencies.end());
    std::string each;
    for (double l : latencies)
      each += (each.empty() ? "" : " ") + std::to_string(static_cast<int>(l));
    report.sayf("each probe, sorted (ms): %s", each.c_str());
    const double n = evalsAfter.first - evalsBefore.first;
    report.sayf("autoscaler evaluations under load: %.0f per s, %.1f ms each on average",
                n / loadSeconds,
                n > 0 ? 1000.0 * (evalsAfter.second - evalsBefore.second) / n : 0.0);
  }
  report.sayf(
      "operator under load: %.2f CPU s per s (%.0f%% of one core), RSS %.1f MB (peak "
      "%.1f MB)",
      (after.cpuSeconds - before.cpuSeconds) / loadSeconds,
      100.0 * (after.cpuSeconds - before.cpuSeconds) / loadSeconds, after.rssMb, after.peakRssMb);

  op->signal(SIGTERM);
  auto exited = op->waitFor(seconds(30));
  report.say(std::string("operator exit on SIGTERM: ") +
             (exited ? std::to_string(exited->code) : std::string("did not exit")));
  report.write(resultsFile);
  return missed == 0 && exited && exited->code == 0 ? 0 : 1;
}
