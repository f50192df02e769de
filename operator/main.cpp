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
#include "common/nats/library.hpp"
#include "common/nats/options.hpp"
#include "common/process/shutdown.hpp"
#include "common/report/report.hpp"
#include "common/util/duration.hpp"
#include "common/util/redact.hpp"
#include "common/version.hpp"
#include "operator/autoscaler/scaler.hpp"
#include "operator/channel/reconciler.hpp"
#include "operator/flags.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "operator/kube/leader/leader_elector.hpp"

namespace {

using osmosis::cli::kExitUsage;

std::string defaultIdentity() {
  std::string pod = osmosis::kube::getEnv("POD_NAME");
  if (!pod.empty()) return pod;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(getpid());
}

osmosis::Result<osmosis::kube::RestConfig> loadConfig(const osmosis::op::Config& f) {
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
  osmosis::op::RawFlags raw;
  osmosis::cli::addCommonFlags(app, &raw.logLevel);
  osmosis::op::addFlags(app, &raw);
  if (auto code = osmosis::cli::parse(app, argc, argv, std::cout, std::cerr)) return *code;
  if (auto code = osmosis::cli::applyLogLevel(raw.logLevel, std::cerr)) return *code;
  osmosis::op::Config f;
  if (auto problems = osmosis::op::finish(raw, &f); !problems.empty()) {
    for (const auto& p : problems)
      std::cerr << "osmosis-operator: " << p << "\n";
    std::cerr << "Run 'osmosis-operator --help' for usage.\n";
    return kExitUsage;
  }
  osmosis::kube::LeaderElectionConfig election;
  election.leaseDuration = f.leaseDuration;
  election.renewDeadline = f.renewDeadline;
  election.retryPeriod = f.retryPeriod;

  auto config = loadConfig(f);
  if (!config) return fail(config.error().message);
  election.ns = f.leaseNamespace.empty() ? config->defaultNamespace : f.leaseNamespace;
  election.name = f.leaseName;
  election.identity = f.identity.empty() ? defaultIdentity() : f.identity;
  if (f.leaderElect) {
    if (auto problems = osmosis::kube::validate(election); !problems.empty())
      return fail(problems.front());
  }
  std::vector<std::string> redactedUrls;
  for (const auto& u : f.nats.urls)
    redactedUrls.push_back(osmosis::redactUrl(u));

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
                                  {"natsUrls", redactedUrls},
                                  {"leaderElection", f.leaderElect},
                                  {"identity", election.identity}});
  if (f.sidecarUrlStripped) {
    osmosis::log::warn(
        "--nats-url carries credentials; injected sidecars get it without them (give them "
        "credentials with a Channel's spec.nats.secretRef, or set --sidecar-nats-url)",
        {{"sidecarNatsUrl", f.sidecarNatsUrl}});
  }

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
  reconcilerOptions.resync = f.resync;
  reconcilerOptions.injection.image = f.sidecarImage;
  reconcilerOptions.injection.natsUrl = f.sidecarNatsUrl;
  if (f.subjectPolicy.reportPrefix != osmosis::report::kDefaultSubjectPrefix)
    reconcilerOptions.injection.reportSubjectPrefix = f.subjectPolicy.reportPrefix;
  reconcilerOptions.subjectPolicy = f.subjectPolicy;
  osmosis::channel::ChannelReconciler reconciler(client, channels.store(), natsPool, events,
                                                 registry, reconcilerOptions);
  osmosis::kube::Controller controller("channel", reconciler, queue, f.workers);
  controller.setMetrics(&registry);
  osmosis::autoscaler::ScalerOptions scalerOptions;
  scalerOptions.operatorPolicy.scaleUpMaxStep = f.scaleUpMaxStep;
  scalerOptions.operatorPolicy.headroom = f.headroom;
  scalerOptions.operatorPolicy.reportStaleness = f.reportStaleness;
  scalerOptions.operatorPolicy.scaleDownStepSeconds = static_cast<int>(f.scaleDownStep.count());
  scalerOptions.reportSubjectPrefix = f.subjectPolicy.reportPrefix;
  osmosis::autoscaler::Scaler scaler(client, channels.store(), natsPool, events, registry,
                                     scalerOptions);
  channels.addHandlers(
      {[&](const osmosis::kube::ObjectPtr&) { scaler.wake(); },
       [&](const osmosis::kube::ObjectPtr&, const osmosis::kube::ObjectPtr&) { scaler.wake(); },
       [&](const osmosis::kube::ObjectPtr&) { scaler.wake(); }});

  std::atomic<bool> leading{!f.leaderElect};
  auto server = osmosis::http::Server::start(
      f.listenHost, f.listenPort,
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
                        {{"address", f.listenHost + ":" + std::to_string(f.listenPort)},
                         {"error", server.error().message}});
    return 1;
  }
  osmosis::log::info("serving /healthz, /readyz, /metrics",
                     {{"address", f.listenHost + ":" + std::to_string(server.value()->port())}});

  auto startControllers = [&] {
    channels.start();
    controller.start();
    scaler.start();
    osmosis::log::info("controllers started", {{"controllers", {"channel", "autoscaler"}},
                                               {"resync", osmosis::formatDuration(f.resync)}});
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
  osmosis::nats::closeLibrary();
  return exitCode;
}
