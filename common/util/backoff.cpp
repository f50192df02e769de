#include "common/util/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace osmosis {

std::chrono::milliseconds backoffDelay(const BackoffPolicy& p, int attempt, double u) {
  double step = static_cast<double>(p.initial.count()) * std::pow(p.factor, std::max(0, attempt));
  step = std::min(step, static_cast<double>(p.cap.count()));
  double jittered = step * (1.0 + p.jitter * std::clamp(u, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<int64_t>(jittered));
}

std::chrono::milliseconds jitteredBackoff(int attempt, std::chrono::milliseconds base,
                                          std::chrono::milliseconds cap) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return backoffDelay({base, 2.0, 0.4, cap}, attempt,
                      std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

}  // namespace osmosis
