#include "operator/kube/util/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

namespace osmosis::kube {

TokenBucket::TokenBucket(double qps, int burst, const Clock& clock)
    : qps_(qps),
      burst_(std::max(1, burst)),
      tokens_(std::max(1, burst)),
      clock_(clock),
      last_(clock.now()) {}

std::chrono::nanoseconds TokenBucket::reserve() {
  std::lock_guard lock(mu_);
  if (qps_ <= 0) return std::chrono::nanoseconds(0);  // unlimited
  SteadyTime now = clock_.now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  tokens_ -= 1.0;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / qps_ * 1e9));
}

bool TokenBucket::tryTake() {
  std::lock_guard lock(mu_);
  if (qps_ <= 0) return true;
  SteadyTime now = clock_.now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void TokenBucket::wait() {
  auto d = reserve();
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

}  // namespace osmosis::kube
