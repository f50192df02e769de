// osmosis-operator: provisions JetStream streams/consumers for Channels and scales workers.
// This build connects to the API server (kubeconfig or in-cluster) and takes part in leader
// election; the Channel controller and the autoscaler arrive with their issues.

#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>

#include <nats/nats.h>

#include "common/cli/parse.hpp"
#include "common/log/logger.hpp"
#include "common/nats/options.hpp"
#include "common/process/shutdown.hpp"
#include "common/util/duration.hpp"
#include "common/version.hpp"
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

  int exitCode = 0;
  osmosis::kube::StopSource stop;
  std::thread worker;
  if (f.leaderElect) {
    worker = std::thread([&] {
      osmosis::kube::LeaderElector elector(
          client, election,
          {[] { osmosis::log::info("leading: controllers would start here (none in this build)"); },
           [&] {
             if (!stop.stopped()) {
               // Lost the lease while running: stop at once so two replicas never act together.
               exitCode = 1;
               shutdown.request();
             }
           },
           nullptr});
      elector.run(stop);
    });
  }
  shutdown.wait();
  stop.stop();
  if (worker.joinable()) worker.join();
  osmosis::log::info("stopped", {{"component", "operator"}, {"exitCode", exitCode}});
  nats_Close();
  return exitCode;
}
