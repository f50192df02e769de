#pragma once

// A controller manager in the manner of controller-runtime's: it owns the shared informers,
// the controllers (each a work queue and its workers), leader election, the /healthz, /readyz
// and /metrics endpoints, and the order things start and stop in:
//
//   run():  serve health and metrics  ->  campaign for the Lease (unless disabled)
//           -> leading: start informers -> wait for their caches -> start controllers
//   stop:   stop controllers (in-flight reconciles finish) -> stop informers -> release the
//           Lease -> stop serving. Losing the Lease while running stops the process (exit 1),
//           so two replicas never act together.
//
// Threads, and what runs on them: one per informer (list+watch, event handlers: they only
// enqueue keys), per controller N workers plus its queue's timer, one leader-election loop,
// and the health server's own (common/http/server.hpp). Controllers are registered with a
// small builder: manager.controller("channel").watches(informer, filter).workers(4)
// .complete(reconciler).

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics/registry.hpp"
#include "common/process/shutdown.hpp"
#include "operator/kube/cache/informer.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/controller/controller.hpp"
#include "operator/kube/leader/leader_elector.hpp"

namespace osmosis::kube {

// Which updates a controller reconciles: adds and deletes always; updates when this says so.
using UpdateFilter = std::function<bool(const ObjectPtr& before, const ObjectPtr& after)>;

// The spec (generation), deletion or finalizers changed: our own status writes, which come back
// as updates, do not wake the controller again.
bool specOrLifecycleChanged(const ObjectPtr& before, const ObjectPtr& after);

struct ManagerOptions {
  std::optional<LeaderElectionConfig> leaderElection;  // unset: act without a Lease
  std::string healthHost = "0.0.0.0";
  int healthPort = 8080;
};

class Manager;

class ControllerBuilder {
 public:
  ControllerBuilder& watches(Informer& informer, UpdateFilter filter = {});
  // Each of them (the per-namespace informers of one resource, Manager::informers).
  ControllerBuilder& watches(const std::vector<Informer*>& informers, UpdateFilter filter = {});
  ControllerBuilder& workers(int n);
  // Registers the controller; its queue is returned for other sources of keys (a NATS
  // callback) to add to.
  WorkQueue& complete(Reconciler& reconciler);

 private:
  friend class Manager;
  ControllerBuilder(Manager& manager, std::string name)
      : manager_(manager), name_(std::move(name)) {}
  Manager& manager_;
  std::string name_;
  std::vector<std::pair<Informer*, UpdateFilter>> watches_;
  int workers_ = 2;
};

class Manager {
 public:
  Manager(Client& client, metrics::Registry& metrics, ManagerOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // The shared informer for `resource` in `ns` ("" all namespaces), made on first use.
  Informer& informer(const Resource& resource, const std::string& ns);
  // The shared informers for `resource` in each of `namespaces` (given once each), or the one
  // over all namespaces when `namespaces` is empty. Several namespaces make several informers,
  // not one cluster-wide: RBAC may allow list and watch only there. Their stores read as one
  // through a MultiNamespaceStore (kube/cache/multi_namespace_store.hpp).
  std::vector<Informer*> informers(const Resource& resource,
                                   const std::vector<std::string>& namespaces);
  ControllerBuilder controller(std::string name);
  // Called on every /metrics scrape, to set gauges from live state.
  void addMetricsCollector(std::function<void(metrics::Registry&)> collect);

  // Serves, campaigns, runs, until `shutdown` (or the Lease is lost); then stops everything
  // in order. Returns the process exit code (0 clean, 1 failure).
  int run(ShutdownSignal& shutdown);
  bool leading() const { return leading_.load(); }
  // Ready: a standby replica always; a leader once every informer's cache has synced.
  bool ready() const;
  // Where /healthz, /readyz and /metrics listen (after run() started serving).
  int healthPort() const { return boundPort_.load(); }

 private:
  friend class ControllerBuilder;
  struct Registered;
  void startLeading();
  void stopAll();
  std::string renderMetrics();

  Client& client_;
  metrics::Registry& metrics_;
  ManagerOptions options_;
  std::vector<std::unique_ptr<Informer>> informers_;
  std::vector<std::unique_ptr<Registered>> controllers_;
  std::vector<std::function<void(metrics::Registry&)>> collectors_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopping_{false};
  std::mutex startMu_;  // starting controllers vs stopping them
  std::thread starter_;
  std::atomic<int> boundPort_{0};
};

}  // namespace osmosis::kube
