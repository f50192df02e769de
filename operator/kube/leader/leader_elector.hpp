#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate
// takes the lease when it is free or when the holder has not renewed it for leaseDuration
// (measured on the candidate's own clock from when it last saw the record change, so clock
// skew between nodes does not matter); the leader renews every retryPeriod and gives up
// leadership if it cannot renew for renewDeadline; on a clean stop it releases the lease.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include "operator/kube/client/client.hpp"

namespace osmosis::kube {

struct LeaderElectionConfig {
  std::string ns;
  std::string name;
  std::string identity;
  std::chrono::milliseconds leaseDuration{15000};
  std::chrono::milliseconds renewDeadline{10000};
  std::chrono::milliseconds retryPeriod{2000};
};

struct LeaderCallbacks {
  std::function<void()> onStartedLeading;
  std::function<void()> onStoppedLeading;
  std::function<void(const std::string& identity)> onNewLeader;
};

// Pure checks of the timing flags, as client-go makes them.
std::vector<std::string> validate(const LeaderElectionConfig& config);

class LeaderElector {
 public:
  LeaderElector(Client& client, LeaderElectionConfig config, LeaderCallbacks callbacks,
                const Clock& clock = RealClock::instance());

  // Campaigns until leader or stopped; then renews until leadership is lost or stopped;
  // releases the lease on stop. Returns when no longer leading.
  void run(StopSource& stop);
  bool isLeader() const { return leading_.load(); }
  std::string observedLeader() const;

  // One attempt; exposed for tests.
  bool tryAcquireOrRenew();

 private:
  void release();
  nlohmann::json leaseSpec(const nlohmann::json& previous, bool takingOver) const;

  Client& client_;
  LeaderElectionConfig config_;
  LeaderCallbacks callbacks_;
  const Clock& clock_;
  Random random_;
  std::atomic<bool> leading_{false};
  mutable std::mutex mu_;
  nlohmann::json observedSpec_;
  SteadyTime observedAt_{};
  std::string observedLeader_;
};

}  // namespace osmosis::kube
