#include "operator/kube/queue/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace osmosis::kube {

std::chrono::nanoseconds ItemExponentialRateLimiter::when(const std::string& item) {
  std::lock_guard lock(mu_);
  int n = failures_[item]++;
  double d = static_cast<double>(base_.count()) * std::pow(2.0, std::min(n, 62));
  if (d >= static_cast<double>(cap_.count())) return cap_;
  return std::chrono::nanoseconds(static_cast<int64_t>(d));
}

void ItemExponentialRateLimiter::forget(const std::string& item) {
  std::lock_guard lock(mu_);
  failures_.erase(item);
}

int ItemExponentialRateLimiter::numRequeues(const std::string& item) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

std::chrono::nanoseconds MaxOfRateLimiter::when(const std::string& item) {
  std::chrono::nanoseconds longest{0};
  for (auto& l : limiters_)
    longest = std::max(longest, l->when(item));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& item) {
  for (auto& l : limiters_)
    l->forget(item);
}

int MaxOfRateLimiter::numRequeues(const std::string& item) {
  int most = 0;
  for (auto& l : limiters_)
    most = std::max(most, l->numRequeues(item));
  return most;
}

std::unique_ptr<RateLimiter> defaultControllerRateLimiter(const Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialRateLimiter>());
  limiters.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace osmosis::kube
