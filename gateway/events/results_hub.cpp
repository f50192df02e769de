#include "gateway/events/results_hub.hpp"

#include <vector>

#include "common/contract/gateway_contract.hpp"

namespace osmosis::gateway {

ResultsHub::~ResultsHub() {
  std::map<std::string, std::shared_ptr<void>> followers;
  {
    std::lock_guard lock(mu_);
    followers.swap(followers_);
  }
  followers.clear();  // (waits for running handlers, outside the lock they take)
}

Result<std::shared_ptr<void>> ResultsHub::listen(const std::string& resultsStream,
                                                 const std::string& subject, Listener listener) {
  std::unique_lock lock(mu_);
  if (!followers_.count(resultsStream)) {
    lock.unlock();
    // Everything under the stream's subjects (one consumer per stream, not per request).
    const auto id = contract::gateway::parseRequestId(
        subject.substr(std::string(contract::gateway::kResultsSubjectRoot).size() + 1));
    const std::string filter =
        id ? contract::gateway::resultsStreamSubject(id->ns, id->channel) : subject;
    auto follower =
        bus_.follow(resultsStream, filter, [this](nats::StoredMessage m) { deliver(m); });
    if (!follower) return follower.error();
    lock.lock();
    followers_.emplace(resultsStream, std::move(follower.value()));  // (a racing one is dropped)
  }
  const uint64_t key = nextKey_++;
  listeners_[subject].emplace(key, std::move(listener));
  ++count_;
  // (a real object: the handle tests true while it is held)
  struct Registration {
    ResultsHub* hub;
    std::string subject;
    uint64_t key;
    ~Registration() { hub->forget(subject, key); }
  };
  return std::shared_ptr<void>(new Registration{this, subject, key});
}

size_t ResultsHub::listeners() const {
  std::lock_guard lock(mu_);
  return count_;
}

void ResultsHub::deliver(const nats::StoredMessage& m) {
  std::vector<Listener> targets;
  {
    std::lock_guard lock(mu_);
    auto it = listeners_.find(m.subject);
    if (it == listeners_.end()) return;
    for (auto& [k, l] : it->second)
      targets.push_back(l);
  }
  for (auto& l : targets)
    l(m);
}

void ResultsHub::forget(const std::string& subject, uint64_t key) {
  std::lock_guard lock(mu_);
  auto it = listeners_.find(subject);
  if (it == listeners_.end()) return;
  if (it->second.erase(key)) --count_;
  if (it->second.empty()) listeners_.erase(it);
}

}  // namespace osmosis::gateway
