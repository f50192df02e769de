// osmosis-operator: provisions JetStream streams/consumers for Channels and scales workers.
// Wiring only: flags, the API client, leader election, the Channel controller, and the
// /healthz, /readyz and /metrics endpoints. The logic lives in operator/channel and
// operator/kube.

#include <atomic>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>

#include <nats/nats.h>

#include "common/cli/parse.hpp"
#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/registry.hpp"
#include "common/nats/options.hpp"
#include "common/process/shutdown.hpp"
#include "common/util/duration.hpp"
#include "common/version.hpp"
#include "operator/autoscaler/scaler.hpp"
#include "operator/channel/reconciler.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "operator/kube/leader/leader_elector.hpp"

namespace {

using osmosis::cli::kExitUsage;

struct Flags {
  std::string logLevel = "info";
  std::string kubeconfig;
  std::string context;
  double kubeQps = 50;
  int kubeBurst = 100;
  bool leaderElect = true;
  std::string leaseNamespace;
  std::string leaseName = "osmosis-operator";
  std::string identity;
  std::string leaseDuration = "15s";
  std::string renewDeadline = "10s";
  std::string retryPeriod = "2s";
  std::string natsUrls = "nats://127.0.0.1:4222";
  osmosis::nats::ConnectionOptions nats;
  std::string httpAddress = ":8080";
  std::string watchNamespace;
  std::string resync = "30s";
  int workers = 4;
  int scaleUpMaxStep = 0;
  double headroom = 1.2;
  std::string reportStaleness = "5s";
  std::string scaleDownStep = "15s";
  std::string sidecarImage =
      std::string("ghcr.io/osmosis-dev/osmosis-sidecar:") + osmosis::kVersion;
  std::string sidecarNatsUrl;
};

std::string defaultIdentity() {
  std::string pod = osmosis::kube::getEnv("POD_NAME");
  if (!pod.empty()) return pod;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(getpid());
}

osmosis::Result<osmosis::kube::RestConfig> loadConfig(const Flags& f) {
  using namespace osmosis::kube;
  if (!f.kubeconfig.empty()) {
    std::vector<std::string> paths;
    std::stringstream ss(f.kubeconfig);
    for (std::string p; std::getline(ss, p, ':');) {
      if (!p.empty()) paths.push_back(p);
    }
    return loadKubeconfig(paths, f.context);
  }
  return inClusterConfig();
}

int fail(const std::string& message) {
  std::cerr << "osmosis-operator: " << message << "\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  auto& shutdown = osmosis::ShutdownSignal::install();
  CLI::App app{"Osmosis operator: NATS JetStream channels with backlog-driven worker scaling",
               "osmosis-operator"};
  Flags f;
  osmosis::cli::addCommonFlags(app, &f.logLevel);
  app.add_option("--kubeconfig", f.kubeconfig,
                 "kubeconfig file(s), colon-separated (default: in-cluster config)")
      ->envname("KUBECONFIG");
  app.add_option("--context", f.context, "kubeconfig context (default: its current-context)");
  app.add_option("--kube-api-qps", f.kubeQps, "sustained requests per second to the API server")
      ->check(CLI::Range(0.1, 10000.0))
      ->capture_default_str();
  app.add_option("--kube-api-burst", f.kubeBurst, "request burst to the API server")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--leader-elect", f.leaderElect,
                 "take part in leader election so only one replica acts")
      ->capture_default_str();
  app.add_option("--leader-election-namespace", f.leaseNamespace,
                 "namespace of the Lease (default: POD_NAMESPACE, else the kubeconfig's namespace)")
      ->envname("POD_NAMESPACE");
  app.add_option("--leader-election-id", f.leaseName, "name of the Lease")->capture_default_str();
  app.add_option("--leader-election-identity", f.identity,
                 "this replica's identity (default: POD_NAME or host_pid)");
  app.add_option("--leader-election-lease-duration", f.leaseDuration,
                 "how long a non-renewed lease stays valid")
      ->capture_default_str();
  app.add_option("--leader-election-renew-deadline", f.renewDeadline,
                 "how long the leader keeps trying to renew")
      ->capture_default_str();
  app.add_option("--leader-election-retry-period", f.retryPeriod,
                 "how often to try to acquire or renew")
      ->capture_default_str();
  app.add_option("--http-address", f.httpAddress,
                 "where /healthz, /readyz and /metrics listen (host:port)")
      ->envname("OSMOSIS_HTTP_ADDRESS")
      ->capture_default_str();
  app.add_option("--watch-namespace", f.watchNamespace,
                 "only reconcile Channels in this namespace (default: all)");
  app.add_option("--resync-period", f.resync,
                 "how often each Channel is checked against NATS and its backlog refreshed")
      ->capture_default_str();
  app.add_option("--workers", f.workers, "Channels reconciled in parallel")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--scale-up-max-step", f.scaleUpMaxStep,
                 "replicas added per scale-up at most (0: no limit)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--scaling-headroom", f.headroom,
                 "drain mode: capacity kept above the arrival rate (1.2 = 20% spare)")
      ->check(CLI::Range(1.0, 10.0))
      ->capture_default_str();
  app.add_option("--scale-down-step-interval", f.scaleDownStep,
                 "scale-down steps are at least this far apart")
      ->capture_default_str();
  app.add_option("--report-staleness", f.reportStaleness,
                 "sidecar reports older than this are ignored")
      ->capture_default_str();
  app.add_option("--sidecar-image", f.sidecarImage,
                 "image of the sidecar injected into worker pods (spec.worker.injectSidecar)")
      ->capture_default_str();
  app.add_option("--sidecar-nats-url", f.sidecarNatsUrl,
                 "NATS URL injected sidecars use when the Channel names no Secret (default: "
                 "--nats-url)");
  osmosis::nats::addFlags(app, &f.nats, &f.natsUrls);
  if (auto code = osmosis::cli::parse(app, argc, argv, std::cout, std::cerr)) return *code;
  if (auto code = osmosis::cli::applyLogLevel(f.logLevel, std::cerr)) return *code;

  f.nats.urls = osmosis::nats::splitUrls(f.natsUrls);
  f.nats.name = "osmosis-operator";
  if (auto problems = osmosis::nats::validate(f.nats); !problems.empty())
    return fail(problems.front());

  osmosis::kube::LeaderElectionConfig election;
  for (auto [text, out, name] :
       {std::tuple{&f.leaseDuration, &election.leaseDuration, "lease-duration"},
        std::tuple{&f.renewDeadline, &election.renewDeadline, "renew-deadline"},
        std::tuple{&f.retryPeriod, &election.retryPeriod, "retry-period"}}) {
    auto d = osmosis::parseDuration(*text);
    if (!d) return fail(std::string("--leader-election-") + name + ": " + d.error().message);
    *out = std::chrono::duration_cast<std::chrono::milliseconds>(d.value());
  }

  auto resync = osmosis::parseDuration(f.resync);
  if (!resync || resync.value() < std::chrono::seconds(1)) {
    return fail("--resync-period: " +
                (resync ? std::string("must be at least 1s") : resync.error().message));
  }
  auto staleness = osmosis::parseDuration(f.reportStaleness);
  if (!staleness || staleness.value() < std::chrono::milliseconds(500)) {
    return fail("--report-staleness: " +
                (staleness ? std::string("must be at least 500ms") : staleness.error().message));
  }
  auto downStep = osmosis::parseDuration(f.scaleDownStep);
  if (!downStep || downStep.value() < std::chrono::seconds(1)) {
    return fail("--scale-down-step-interval: " +
                (downStep ? std::string("must be at least 1s") : downStep.error().message));
  }
  auto listen = osmosis::http::parseListenAddress(f.httpAddress);
  if (!listen) return fail("--http-address: " + listen.error().message);

  auto config = loadConfig(f);
  if (!config) return fail(config.error().message);
  election.ns = f.leaseNamespace.empty() ? config->defaultNamespace : f.leaseNamespace;
  election.name = f.leaseName;
  election.identity = f.identity.empty() ? defaultIdentity() : f.identity;
  if (f.leaderElect) {
    if (auto problems = osmosis::kube::validate(election); !problems.empty())
      return fail(problems.front());
  }

  osmosis::kube::TransportOptions transportOptions;
  transportOptions.userAgent = std::string("osmosis-operator/") + osmosis::kVersion;
  osmosis::kube::ClientOptions clientOptions;
  clientOptions.qps = f.kubeQps;
  clientOptions.burst = f.kubeBurst;
  osmosis::kube::Client client(
      osmosis::kube::makeCpprestTransport(config.value(), transportOptions), clientOptions);

  osmosis::log::info("starting", {{"version", osmosis::kVersion},
                                  {"component", "operator"},
                                  {"apiServer", config->server},
                                  {"config", config->source},
                                  {"natsUrls", f.nats.urls},
                                  {"leaderElection", f.leaderElect},
                                  {"identity", election.identity}});

  // Secret material for NATS (creds, TLS) goes to files only this process can read.
  std::string privateDir =
      (osmosis::kube::getEnv("TMPDIR").empty() ? "/tmp" : osmosis::kube::getEnv("TMPDIR")) +
      "/osmosis-operator-XXXXXX";
  if (mkdtemp(privateDir.data()) == nullptr) {
    osmosis::log::error("cannot create a private directory", {{"path", privateDir}});
    return 1;
  }

  osmosis::metrics::Registry registry;
  osmosis::kube::EventRecorderOptions eventOptions;
  eventOptions.instance = election.identity;
  osmosis::kube::EventRecorder events(client, eventOptions);
  osmosis::channel::NatsConnections natsPool(f.nats, privateDir);
  osmosis::kube::Informer channels(client, osmosis::kube::resources::channels(), f.watchNamespace);
  osmosis::kube::WorkQueue queue(
      osmosis::kube::defaultControllerRateLimiter(osmosis::kube::RealClock::instance()));
  channels.addHandlers(
      {[&](const osmosis::kube::ObjectPtr& o) { queue.add(osmosis::kube::keyOf(*o)); },
       [&](const osmosis::kube::ObjectPtr& old, const osmosis::kube::ObjectPtr& now) {
         // Our own status writes come back as updates: only spec or lifecycle changes matter.
         const auto& a = (*old)["metadata"];
         const auto& b = (*now)["metadata"];
         if (a.value("generation", 0) != b.value("generation", 0) ||
             a.contains("deletionTimestamp") != b.contains("deletionTimestamp") ||
             a.value("finalizers", nlohmann::json()) != b.value("finalizers", nlohmann::json())) {
           queue.add(osmosis::kube::keyOf(*now));
         }
       },
       [&](const osmosis::kube::ObjectPtr& o) { queue.add(osmosis::kube::keyOf(*o)); }});
  osmosis::channel::ReconcilerOptions reconcilerOptions;
  reconcilerOptions.resync = std::chrono::duration_cast<std::chrono::milliseconds>(resync.value());
  reconcilerOptions.injection.image = f.sidecarImage;
  reconcilerOptions.injection.natsUrl = f.sidecarNatsUrl.empty() ? f.natsUrls : f.sidecarNatsUrl;
  osmosis::channel::ChannelReconciler reconciler(client, channels.store(), natsPool, events,
                                                 registry, reconcilerOptions);
  osmosis::kube::Controller controller("channel", reconciler, queue, f.workers);
  controller.setMetrics(&registry);
  osmosis::autoscaler::ScalerOptions scalerOptions;
  scalerOptions.operatorPolicy.scaleUpMaxStep = f.scaleUpMaxStep;
  scalerOptions.operatorPolicy.headroom = f.headroom;
  scalerOptions.operatorPolicy.reportStaleness =
      std::chrono::duration_cast<std::chrono::milliseconds>(staleness.value());
  scalerOptions.operatorPolicy.scaleDownStepSeconds =
      static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(downStep.value()).count());
  osmosis::autoscaler::Scaler scaler(client, channels.store(), natsPool, events, registry,
                                     scalerOptions);
  channels.addHandlers(
      {[&](const osmosis::kube::ObjectPtr&) { scaler.wake(); },
       [&](const osmosis::kube::ObjectPtr&, const osmosis::kube::ObjectPtr&) { scaler.wake(); },
       [&](const osmosis::kube::ObjectPtr&) { scaler.wake(); }});

  std::atomic<bool> leading{!f.leaderElect};
  auto server = osmosis::http::Server::start(
      listen->first, listen->second,
      [&](const osmosis::http::Request& req) -> osmosis::http::Response {
        if (req.path() == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}};
        if (req.path() == "/readyz") {
          // A standby replica is ready; a leader is once its cache has synced.
          if (leading.load() && !channels.hasSynced())
            return {503, "text/plain; charset=utf-8", "cache not synced\n", {}};
          return {200, "text/plain; charset=utf-8", "ok\n", {}};
        }
        if (req.path() == "/metrics") {
          auto st = channels.stats();
          registry
              .gauge("osmosis_workqueue_depth", "Keys waiting in the work queue",
                     {{"controller", "channel"}})
              .set(static_cast<double>(queue.len()));
          registry.gauge("osmosis_channels", "Channels in the informer cache")
              .set(static_cast<double>(channels.store().size()));
          registry.gauge("osmosis_leader", "1 while this replica leads")
              .set(leading.load() ? 1 : 0);
          registry.gauge("osmosis_nats_connections", "Open NATS connections")
              .set(static_cast<double>(natsPool.size()));
          registry.gauge("osmosis_watch_events", "Watch events received")
              .set(static_cast<double>(st.events));
          registry.gauge("osmosis_watch_relists", "Relists after 410 Gone")
              .set(static_cast<double>(st.relistsAfterGone));
          return {200, "text/plain; version=0.0.4; charset=utf-8", registry.render(), {}};
        }
        return {404, "text/plain; charset=utf-8", "not found\n", {}};
      });
  if (!server) {
    osmosis::log::error("cannot listen",
                        {{"address", f.httpAddress}, {"error", server.error().message}});
    return 1;
  }
  osmosis::log::info("serving /healthz, /readyz, /metrics",
                     {{"address", listen->first + ":" + std::to_string(server.value()->port())}});

  auto startControllers = [&] {
    channels.start();
    controller.start();
    scaler.start();
    osmosis::log::info("controllers started",
                       {{"controllers", {"channel", "autoscaler"}}, {"resync", f.resync}});
  };

  int exitCode = 0;
  osmosis::kube::StopSource stop;
  std::thread worker;
  if (f.leaderElect) {
    worker = std::thread([&] {
      osmosis::kube::LeaderElector elector(client, election,
                                           {[&] {
                                              leading = true;
                                              startControllers();
                                            },
                                            [&] {
                                              leading = false;
                                              if (!stop.stopped()) {
                                                // Lost the lease while running: stop at once so two
                                                // replicas never act together.
                                                exitCode = 1;
                                                shutdown.request();
                                              }
                                            },
                                            nullptr});
      elector.run(stop);
    });
  } else {
    startControllers();
  }
  shutdown.wait();
  // Finish in-flight reconciles before giving up the lease, so the next leader starts clean.
  scaler.stop();
  controller.stop();
  channels.stop();
  stop.stop();
  if (worker.joinable()) worker.join();
  events.flush(std::chrono::seconds(5));
  server.value()->stop();
  std::error_code ec;
  std::filesystem::remove_all(privateDir, ec);
  osmosis::log::info("stopped", {{"component", "operator"}, {"exitCode", exitCode}});
  nats_Close();
  return exitCode;
}
