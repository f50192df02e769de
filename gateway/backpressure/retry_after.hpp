#pragma once

// Pure: how long a refused publisher should wait (the Retry-After of a 429 or 503).
//
// Over the backlog limit: the time for the channel to drain back below 90% of the limit at
// the rate the autoscaler measured (its learned per-pod rate x ready replicas, from the
// Channel's status), rounded up, 1..300 s. With no measured rate (no pod has run yet, or the
// workers are scaled to zero and will take a pod start-up to come back): `unknownRate`.
// No peer can do better than a constant here; the rate is what makes the number honest.

#include <chrono>
#include <cstdint>

namespace osmosis::gateway {

struct DrainEstimate {
  int64_t backlog = 0;
  int64_t limit = 0;          // the channel's gateway maxBacklog (or the stream's max msgs)
  double drainPerSecond = 0;  // <= 0: unknown
};

inline constexpr std::chrono::seconds kRetryAfterUnknownRate{5};
inline constexpr std::chrono::seconds kRetryAfterMax{300};

std::chrono::seconds retryAfter(const DrainEstimate& e,
                                std::chrono::seconds unknownRate = kRetryAfterUnknownRate);

}  // namespace osmosis::gateway
