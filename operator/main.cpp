// osmosis-operator: provisions JetStream streams and consumers for Channels and scales their
// workers by backlog. Assembly only: flags (flags.hpp), settings (wiring.hpp), then the
// components, handed to the manager (kube/manager) that runs them. docs/architecture.md
// follows a Channel and a report through them.

#include <iostream>

#include "common/cli/parse.hpp"
#include "common/log/logger.hpp"
#include "common/nats/library.hpp"
#include "common/process/shutdown.hpp"
#include "common/util/redact.hpp"
#include "common/version.hpp"
#include "operator/autoscaler/autoscaler.hpp"
#include "operator/kube/cache/multi_namespace_store.hpp"
#include "operator/wiring.hpp"

using namespace osmosis;

namespace {

int usage(const std::string& message) {
  std::cerr << "osmosis-operator: " << message << "\nRun 'osmosis-operator --help' for usage.\n";
  return cli::kExitUsage;
}

void logStart(const op::Config& f, const kube::RestConfig& rest, const kube::ManagerOptions& m) {
  std::vector<std::string> urls;
  for (const auto& u : f.nats.urls)
    urls.push_back(redactUrl(u));
  log::info("starting",
            {{"version", kVersion},
             {"component", "operator"},
             {"apiServer", rest.server},
             {"config", rest.source},
             {"natsUrls", urls},
             {"watchNamespaces",
              f.watchNamespaces.empty() ? std::vector<std::string>{"(all)"} : f.watchNamespaces},
             {"leaderElection", m.leaderElection.has_value()},
             {"identity", m.leaderElection ? m.leaderElection->identity : ""}});
  if (f.sidecarUrlStripped) {
    log::warn(
        "--nats-url carries credentials; injected sidecars get it without them (give them "
        "credentials with a Channel's spec.nats.secretRef, or set --sidecar-nats-url)",
        {{"sidecarNatsUrl", f.sidecarNatsUrl}});
  }
}

// Everything that holds a NATS connection lives in here, so it is gone before main closes the
// library (the shared delivery thread frees what it still queues only then).
int run(int argc, char** argv) {
  auto& shutdown = ShutdownSignal::install();
  CLI::App app{"Osmosis operator: NATS JetStream channels with backlog-driven worker scaling",
               "osmosis-operator"};
  op::RawFlags raw;
  cli::addCommonFlags(app, &raw.logLevel);
  op::addFlags(app, &raw);
  if (auto code = cli::parse(app, argc, argv, std::cout, std::cerr)) return *code;
  if (auto code = cli::applyLogLevel(raw.logLevel, std::cerr)) return *code;
  op::Config f;
  if (auto problems = op::finish(raw, &f); !problems.empty()) return usage(problems.front());
  auto rest = op::loadRestConfig(f);
  if (!rest) return usage(rest.error().message);
  auto managed = op::managerOptions(f, rest.value());
  if (!managed) return usage(managed.error().message);
  logStart(f, rest.value(), managed.value());
  auto secrets = op::PrivateDir::create();
  if (!secrets) {
    log::error("cannot start", {{"error", secrets.error().message}});
    return 1;
  }

  kube::Client client(kube::makeCpprestTransport(rest.value(), op::transportOptions()),
                      op::clientOptions(f));
  metrics::Registry metrics;
  kube::EventRecorder events(client, op::eventOptions(managed.value()));
  natspool::NatsConnections nats(f.nats, secrets->path());
  api::ParsedChannels parsed;
  kube::Manager manager(client, metrics, managed.value());
  // One informer over all namespaces, or one per watched namespace; read as one cache.
  auto channelInformers = manager.informers(kube::resources::channels(), f.watchNamespaces);
  std::vector<const kube::StoreReader*> channelStores;
  for (const auto* i : channelInformers)
    channelStores.push_back(&i->store());
  kube::MultiNamespaceStore channels(channelStores);

  channel::ChannelReconciler reconciler(client, channels, parsed, nats, events, metrics,
                                        op::reconcilerOptions(f));
  manager.controller("channel")
      .watches(channelInformers, kube::specOrLifecycleChanged)
      .workers(f.workers)
      .complete(reconciler);
  autoscaler::Autoscaler scaler(client, channels, parsed, nats, events, metrics,
                                op::scalerOptions(f));
  scaler.setQueue(&manager.controller("autoscaler")
                       .watches(channelInformers)
                       .workers(f.scalerWorkers)
                       .complete(scaler));
  manager.addMetricsCollector([&](metrics::Registry& m) {
    m.gauge("osmosis_channels", "Channels in the informer cache")
        .set(static_cast<double>(channels.size()));
    m.gauge("osmosis_nats_connections", "Open NATS connections")
        .set(static_cast<double>(nats.size()));
  });

  const int code = manager.run(shutdown);
  scaler.clear();
  events.flush(std::chrono::seconds(5));
  log::info("stopped", {{"component", "operator"}, {"exitCode", code}});
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const int code = run(argc, argv);
  nats::closeLibrary();
  return code;
}
