#pragma once

// Exponential backoff with jitter (client-go's wait.Backoff): each step multiplies the base
// by `factor`, caps at `cap`, and adds up to `jitter` x the step at random.
// Token bucket (client-go's flowcontrol): `qps` sustained, `burst` at once.

#include <chrono>
#include <mutex>

#include "operator/kube/util/clock.hpp"

namespace osmosis::kube {

struct BackoffPolicy {
  std::chrono::milliseconds initial{200};
  double factor = 2.0;
  double jitter = 0.5;  // fraction of the step added at random: [step, step*(1+jitter))
  std::chrono::milliseconds cap{30000};
};

// Pure: the delay before attempt `attempt` (0-based), given a uniform random u in [0, 1).
std::chrono::milliseconds backoffDelay(const BackoffPolicy& policy, int attempt, double u);

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
