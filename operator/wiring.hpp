#pragma once

// From the operator's checked flags to each component's settings: the small translations
// main.cpp would otherwise be full of.

#include <optional>
#include <string>

#include "operator/autoscaler/channel_scaler.hpp"
#include "operator/channel/reconciler.hpp"
#include "operator/flags.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "operator/kube/manager/manager.hpp"

namespace osmosis::op {

// The kubeconfig files of --kubeconfig (colon-separated), else the in-cluster config.
Result<kube::RestConfig> loadRestConfig(const Config& config);

// Leader election (unset when --leader-elect=false), or what is wrong with it.
Result<kube::ManagerOptions> managerOptions(const Config& config, const kube::RestConfig& rest);

kube::ClientOptions clientOptions(const Config& config);
kube::TransportOptions transportOptions();
kube::EventRecorderOptions eventOptions(const kube::ManagerOptions& manager);
channel::ReconcilerOptions reconcilerOptions(const Config& config);
autoscaler::ScalerOptions scalerOptions(const Config& config);

// A directory only this process can read (0700), for Secret material libnats reads from
// files; removed on destruction.
class PrivateDir {
 public:
  static Result<PrivateDir> create();
  PrivateDir(PrivateDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  PrivateDir(const PrivateDir&) = delete;
  ~PrivateDir();
  const std::string& path() const { return path_; }

 private:
  explicit PrivateDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace osmosis::op
