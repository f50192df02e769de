#pragma once

// Exponential backoff with jitter (client-go's wait.Backoff), the one formula both binaries use:
// each step multiplies the initial delay by `factor`, caps at `cap`, and adds up to `jitter` x
// the step at random, so many clients do not retry in step. Pure.

#include <chrono>

namespace osmosis {

struct BackoffPolicy {
  std::chrono::milliseconds initial{200};
  double factor = 2.0;
  double jitter = 0.5;  // fraction of the step added at random: [step, step*(1+jitter))
  std::chrono::milliseconds cap{30000};
};

// The delay before attempt `attempt` (0-based), given a uniform random u in [0, 1).
std::chrono::milliseconds backoffDelay(const BackoffPolicy& policy, int attempt, double u);

// backoffDelay at min(cap, base * 2^attempt) plus up to 40% at random, with a per-thread
// generator: what the binaries wait between connection attempts.
std::chrono::milliseconds jitteredBackoff(int attempt, std::chrono::milliseconds base,
                                          std::chrono::milliseconds cap);

}  // namespace osmosis
