#include "operator/wiring.hpp"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "common/report/report.hpp"
#include "common/version.hpp"

namespace osmosis::op {

Result<kube::RestConfig> loadRestConfig(const Config& f) {
  return kube::restConfigFor(f.kubeconfig, f.context);
}

Result<kube::ManagerOptions> managerOptions(const Config& f, const kube::RestConfig& rest) {
  kube::ManagerOptions o;
  o.healthHost = f.listenHost;
  o.healthPort = f.listenPort;
  if (!f.leaderElect) return o;
  kube::LeaderElectionConfig e;
  e.leaseDuration = f.leaseDuration;
  e.renewDeadline = f.renewDeadline;
  e.retryPeriod = f.retryPeriod;
  e.ns = f.leaseNamespace.empty() ? rest.defaultNamespace : f.leaseNamespace;
  e.name = f.leaseName;
  e.identity = f.identity;
  if (e.identity.empty()) {
    e.identity = kube::getEnv("POD_NAME");
    if (e.identity.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      e.identity = std::string(host) + "_" + std::to_string(getpid());
    }
  }
  if (auto problems = kube::validate(e); !problems.empty())
    return makeError(Error::Code::kInvalidArgument, problems.front());
  o.leaderElection = e;
  return o;
}

kube::ClientOptions clientOptions(const Config& f) {
  kube::ClientOptions o;
  o.qps = f.kubeQps;
  o.burst = f.kubeBurst;
  return o;
}

kube::TransportOptions transportOptions() {
  kube::TransportOptions o;
  o.userAgent = std::string("osmosis-operator/") + kVersion;
  return o;
}

kube::EventRecorderOptions eventOptions(const kube::ManagerOptions& m) {
  kube::EventRecorderOptions o;
  if (m.leaderElection) o.instance = m.leaderElection->identity;
  return o;
}

channel::ReconcilerOptions reconcilerOptions(const Config& f) {
  channel::ReconcilerOptions o;
  o.resync = f.resync;
  o.injection.image = f.sidecarImage;
  o.injection.natsUrl = f.sidecarNatsUrl;
  o.injection.cpuRequest = f.sidecarCpuRequest;
  o.injection.memoryRequest = f.sidecarMemoryRequest;
  o.injection.cpuLimit = f.sidecarCpuLimit;
  o.injection.memoryLimit = f.sidecarMemoryLimit;
  if (f.subjectPolicy.reportPrefix != report::kDefaultSubjectPrefix)
    o.injection.reportSubjectPrefix = f.subjectPolicy.reportPrefix;
  o.subjectPolicy = f.subjectPolicy;
  return o;
}

autoscaler::ScalerOptions scalerOptions(const Config& f) {
  autoscaler::ScalerOptions o;
  o.operatorPolicy.scaleUpMaxStep = f.scaleUpMaxStep;
  o.operatorPolicy.headroom = f.headroom;
  o.operatorPolicy.reportStaleness = f.reportStaleness;
  o.operatorPolicy.scaleDownStepSeconds = static_cast<int>(f.scaleDownStep.count());
  o.tuning.scaleDownTolerance = f.scalingTolerance;
  o.tuning.idleWindowRelease = f.idleWindowRelease;
  o.podDeletionCost = f.podDeletionCost;
  o.reportSubjectPrefix = f.subjectPolicy.reportPrefix;
  return o;
}

Result<PrivateDir> PrivateDir::create() {
  const std::string tmp = kube::getEnv("TMPDIR").empty() ? "/tmp" : kube::getEnv("TMPDIR");
  std::string path = tmp + "/osmosis-operator-XXXXXX";
  if (mkdtemp(path.data()) == nullptr)
    return makeError(Error::Code::kInternal, "cannot create a private directory in " + tmp);
  return PrivateDir(path);
}

PrivateDir::~PrivateDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace osmosis::op
