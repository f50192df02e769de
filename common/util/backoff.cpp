#include "common/util/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace osmosis {

std::chrono::milliseconds backoffDelay(const BackoffPolicy& p, int attempt, double u) {
  double step = static_cast<double>(p.initial.count()) * std::pow(p.factor, std::max(0, attempt));
  step = std::min(step, static_cast<double>(p.cap.count()));
  double jittered = step * (1.0 + p.jitter * std::clamp(u, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<int64_t>(jittered));
}

}  // namespace osmosis
