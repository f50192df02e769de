#pragma once

// The operator's flags: registered on CLI11, then checked and turned into typed settings by
// finish(), which says everything that is wrong (pure: no I/O). Every duration is bounded
// to what its consumer can hold (a Lease's int32 seconds, a timer), so a value that parses
// can never overflow later (issue 16, item 5).

#include <chrono>
#include <string>
#include <vector>

#include "common/nats/options.hpp"
#include "operator/api/subject_policy.hpp"

namespace CLI {
class App;
}

namespace osmosis::op {

using std::chrono::milliseconds;

// As given on the command line or in the environment.
struct RawFlags {
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
  nats::ConnectionOptions nats;
  std::string httpAddress = ":8080";
  std::vector<std::string> watchNamespaces;
  std::string resync = "30s";
  int workers = 4;
  int scalerWorkers = 8;
  int scaleUpMaxStep = 0;
  double headroom = 1.2;
  double scalingTolerance = 0.1;
  std::string idleWindowRelease = "0s";
  std::string reportStaleness = "5s";
  std::string scaleDownStep = "15s";
  bool podDeletionCost = false;
  std::string reportSubjectPrefix = "osmosis.report";
  std::vector<std::string> subjectGrants;
  std::string sidecarImage;
  std::string sidecarNatsUrl;
  std::string sidecarCpuRequest = "50m";
  std::string sidecarMemoryRequest = "16Mi";
  std::string sidecarCpuLimit = "none";
  std::string sidecarMemoryLimit = "64Mi";
};

// Checked and typed.
struct Config {
  std::string kubeconfig;
  std::string context;
  double kubeQps = 50;
  int kubeBurst = 100;
  bool leaderElect = true;
  std::string leaseNamespace;  // empty: the kubeconfig's namespace
  std::string leaseName;
  std::string identity;  // empty: POD_NAME, else host_pid
  milliseconds leaseDuration{15000};
  milliseconds renewDeadline{10000};
  milliseconds retryPeriod{2000};
  nats::ConnectionOptions nats;
  std::string listenHost;
  int listenPort = 8080;
  // The namespaces whose Channels are reconciled, each once, in the order given; empty: all
  // namespaces (one cluster-wide informer). Otherwise one informer per namespace, so the
  // operator needs no cluster-wide list or watch (the chart's namespaced mode).
  std::vector<std::string> watchNamespaces;
  milliseconds resync{30000};
  int workers = 4;
  // Channels evaluated by the autoscaler in parallel: its steps wait on the API server (reads
  // of /scale, pods, HPAs), so more than the cores (docs/faults.md, the load benchmark).
  int scalerWorkers = 8;
  int scaleUpMaxStep = 0;
  double headroom = 1.2;
  // Drain mode's tolerance band and the idle release of the stabilization window
  // (autoscaler::Tuning; docs/scaling-quality.md weighs both).
  double scalingTolerance = 0.1;
  std::chrono::seconds idleWindowRelease{0};
  milliseconds reportStaleness{5000};
  std::chrono::seconds scaleDownStep{15};
  // Before a scale-down, set controller.kubernetes.io/pod-deletion-cost on the target's pods
  // from their reports, so the idle ones go first (needs pods patch; docs/autoscaler.md).
  bool podDeletionCost = false;
  api::SubjectPolicy subjectPolicy;
  std::string sidecarImage;
  // What injected sidecars use when a Channel names no Secret: never with credentials.
  std::string sidecarNatsUrl;
  // True when sidecarNatsUrl came from --nats-url with its credentials taken out.
  bool sidecarUrlStripped = false;
  // The injected sidecar's resources (Kubernetes quantities; empty: not set).
  std::string sidecarCpuRequest;
  std::string sidecarMemoryRequest;
  std::string sidecarCpuLimit;
  std::string sidecarMemoryLimit;
};

// Is `text` a Kubernetes resource quantity in the forms a chart writes (250m, 0.5, 64Mi, 1G)?
bool isQuantity(const std::string& text);

void addFlags(CLI::App& app, RawFlags* raw);

// Every problem as a sentence; empty means `config` is complete and valid.
std::vector<std::string> finish(const RawFlags& raw, Config* config);

}  // namespace osmosis::op
