#include "operator/kube/leader/leader_elector.hpp"

#include <algorithm>
#include <cmath>
#include <future>

#include "common/log/logger.hpp"
#include "operator/kube/api/time_format.hpp"

namespace osmosis::kube {

std::vector<std::string> validate(const LeaderElectionConfig& c) {
  std::vector<std::string> problems;
  if (c.name.empty()) problems.push_back("leader election needs a lease name");
  if (c.ns.empty()) problems.push_back("leader election needs a lease namespace");
  if (c.identity.empty()) problems.push_back("leader election needs an identity");
  if (c.leaseDuration <= c.renewDeadline)
    problems.push_back("lease duration must be greater than renew deadline");
  if (c.renewDeadline.count() <=
      static_cast<int64_t>(1.2 * static_cast<double>(c.retryPeriod.count()))) {
    problems.push_back("renew deadline must be greater than 1.2 x retry period");
  }
  if (c.retryPeriod.count() <= 0) problems.push_back("retry period must be positive");
  return problems;
}

LeaderElector::LeaderElector(Client& client, LeaderElectionConfig config, LeaderCallbacks callbacks,
                             const Clock& clock)
    : client_(client),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      clock_(clock) {}

std::string LeaderElector::observedLeader() const {
  std::lock_guard lock(mu_);
  return observedLeader_;
}

nlohmann::json LeaderElector::leaseSpec(const nlohmann::json& previous, bool takingOver) const {
  const std::string now = formatMicroTime(clock_.wallNow());
  nlohmann::json spec = {
      {"holderIdentity", config_.identity},
      {"leaseDurationSeconds",
       std::max<int64_t>(1,
                         std::chrono::ceil<std::chrono::seconds>(config_.leaseDuration).count())},
      {"renewTime", now}};
  int transitions = previous.is_object() ? previous.value("leaseTransitions", 0) : 0;
  if (takingOver) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = previous.is_object() && !previous.value("holderIdentity", "").empty()
                                   ? transitions + 1
                                   : transitions;
  } else {
    spec["acquireTime"] = previous.value("acquireTime", now);
    spec["leaseTransitions"] = transitions;
  }
  return spec;
}

bool LeaderElector::tryAcquireOrRenew() {
  auto current = client_.get(resources::leases(), config_.ns, config_.name);
  if (!current) {
    if (!isNotFound(current.error())) {
      log::warn("cannot read lease",
                {{"lease", config_.ns + "/" + config_.name}, {"error", current.error().message}});
      return false;
    }
    nlohmann::json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                            {"kind", "Lease"},
                            {"metadata", {{"name", config_.name}, {"namespace", config_.ns}}},
                            {"spec", leaseSpec(nlohmann::json(), true)}};
    auto created = client_.create(resources::leases(), config_.ns, lease);
    if (!created) {
      // (Another candidate creating it first is the normal race, not worth a line.)
      if (!isAlreadyExists(created.error()))
        log::warn("cannot create lease",
                  {{"lease", config_.ns + "/" + config_.name}, {"error", created.error().message}});
      return false;
    }
    std::lock_guard lock(mu_);
    observedSpec_ = created->value("spec", nlohmann::json::object());
    observedAt_ = clock_.now();
    observedLeader_ = config_.identity;
    return true;
  }
  nlohmann::json spec = current->value("spec", nlohmann::json::object());
  const std::string holder = spec.value("holderIdentity", "");
  const bool mine = holder == config_.identity;
  {
    std::lock_guard lock(mu_);
    if (spec != observedSpec_) {
      observedSpec_ = spec;
      observedAt_ = clock_.now();
    }
    observedLeader_ = holder;
    if (!holder.empty() && !mine) {
      auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", 15));
      if (observedAt_ + duration > clock_.now()) return false;  // held and not expired
    }
  }
  nlohmann::json updated = current.value();
  updated["spec"] = leaseSpec(spec, !mine);
  auto put = client_.update(resources::leases(), config_.ns,
                            updated);  // optimistic: carries resourceVersion
  if (!put) {
    if (!isConflict(put.error())) {
      log::warn("cannot update lease",
                {{"lease", config_.ns + "/" + config_.name}, {"error", put.error().message}});
    }
    return false;
  }
  std::lock_guard lock(mu_);
  observedSpec_ = put->value("spec", nlohmann::json::object());
  observedAt_ = clock_.now();
  observedLeader_ = config_.identity;
  return true;
}

void LeaderElector::release() {
  auto current = client_.get(resources::leases(), config_.ns, config_.name);
  if (!current) return;
  nlohmann::json spec = current->value("spec", nlohmann::json::object());
  if (spec.value("holderIdentity", "") != config_.identity) return;
  const std::string now = formatMicroTime(clock_.wallNow());
  (*current)["spec"]["holderIdentity"] = "";
  (*current)["spec"]["leaseDurationSeconds"] = 1;
  (*current)["spec"]["renewTime"] = now;
  (*current)["spec"]["acquireTime"] = now;
  auto put = client_.update(resources::leases(), config_.ns, current.value());
  if (!put) {
    log::warn("cannot release lease",
              {{"lease", config_.ns + "/" + config_.name}, {"error", put.error().message}});
    return;
  }
  log::info("released leader lease",
            {{"lease", config_.ns + "/" + config_.name}, {"identity", config_.identity}});
}

void LeaderElector::run(StopSource& stop) {
  const std::string lease = config_.ns + "/" + config_.name;
  std::string lastLeader;
  auto jittered = [&] {
    return std::chrono::milliseconds(static_cast<int64_t>(
        static_cast<double>(config_.retryPeriod.count()) * (1.0 + 1.2 * random_.uniform())));
  };
  log::info("campaigning for leadership", {{"lease", lease}, {"identity", config_.identity}});
  while (!stop.stopped()) {
    if (tryAcquireOrRenew()) break;
    std::string leader = observedLeader();
    if (leader != lastLeader) {
      lastLeader = leader;
      if (callbacks_.onNewLeader) callbacks_.onNewLeader(leader);
      log::info("lease held by another", {{"lease", lease}, {"leader", leader}});
    }
    if (stop.sleepFor(jittered())) return;
  }
  if (stop.stopped()) return;
  leading_.store(true);
  log::info("became leader", {{"lease", lease}, {"identity", config_.identity}});
  if (callbacks_.onNewLeader) callbacks_.onNewLeader(config_.identity);
  if (callbacks_.onStartedLeading) callbacks_.onStartedLeading();

  SteadyTime lastRenew = clock_.now();
  while (!stop.stopped()) {
    if (stop.sleepFor(config_.retryPeriod)) break;
    // The attempt may block (an API server that stopped answering mid-handshake): wait for it
    // no longer than the renew deadline leaves, as client-go bounds each renew by it, so a
    // leader that cannot renew steps down before the lease can go to another. If it gives up
    // waiting, the attempt's future still waits for the request when this scope ends.
    auto attempt = std::async(std::launch::async, [this] { return tryAcquireOrRenew(); });
    const auto left = std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                          config_.renewDeadline - (clock_.now() - lastRenew)));
    const bool answered = attempt.wait_for(left) == std::future_status::ready;
    if (answered && attempt.get()) {
      lastRenew = clock_.now();
      continue;
    }
    std::string holder = observedLeader();
    bool takenOver = !holder.empty() && holder != config_.identity;
    if (!answered || takenOver || clock_.now() - lastRenew >= config_.renewDeadline) {
      log::error("lost leadership: could not renew the lease in time",
                 {{"lease", lease}, {"renewDeadlineMs", config_.renewDeadline.count()}});
      leading_.store(false);
      if (callbacks_.onStoppedLeading) callbacks_.onStoppedLeading();
      return;
    }
  }
  leading_.store(false);
  release();
  if (callbacks_.onStoppedLeading) callbacks_.onStoppedLeading();
}

}  // namespace osmosis::kube
