#pragma once

// Backoff (client-go's wait.Backoff: the formula is common/util/backoff.hpp, shared with the
// sidecar) as a stateful counter, and a token bucket (client-go's flowcontrol): `qps`
// sustained, `burst` at once.

#include <chrono>
#include <mutex>

#include "common/util/backoff.hpp"
#include "operator/kube/util/clock.hpp"

namespace osmosis::kube {

using osmosis::backoffDelay;
using osmosis::BackoffPolicy;

class Backoff {
 public:
  Backoff(BackoffPolicy policy, Random& random) : policy_(policy), random_(random) {}
  std::chrono::milliseconds next() { return backoffDelay(policy_, attempt_++, random_.uniform()); }
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  Random& random_;
  int attempt_ = 0;
};

class TokenBucket {
 public:
  TokenBucket(double qps, int burst, const Clock& clock);
  // How long the caller must wait before it may go; reserves the token (pure arithmetic, no sleep).
  std::chrono::nanoseconds reserve();
  // Takes a token if one is there now; never waits, never goes into debt.
  bool tryTake();
  // Sleeps as reserve() says.
  void wait();

 private:
  std::mutex mu_;
  double qps_;
  double burst_;
  double tokens_;
  const Clock& clock_;
  SteadyTime last_;
};

}  // namespace osmosis::kube
