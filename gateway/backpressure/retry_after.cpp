#include "gateway/backpressure/retry_after.hpp"

#include <algorithm>
#include <cmath>

namespace osmosis::gateway {

std::chrono::seconds retryAfter(const DrainEstimate& e, std::chrono::seconds unknownRate) {
  if (!(e.drainPerSecond > 0) || !std::isfinite(e.drainPerSecond))
    return std::clamp(unknownRate, std::chrono::seconds(1), kRetryAfterMax);
  const double target = 0.9 * static_cast<double>(std::max<int64_t>(e.limit, 0));
  const double excess = std::max(1.0, static_cast<double>(e.backlog) - target);
  const double seconds = std::ceil(excess / e.drainPerSecond);
  if (!(seconds < static_cast<double>(kRetryAfterMax.count()))) return kRetryAfterMax;
  return std::max(std::chrono::seconds(1), std::chrono::seconds(static_cast<int64_t>(seconds)));
}

}  // namespace osmosis::gateway
