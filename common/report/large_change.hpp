#pragma once

// When a pod's backlog moved enough to matter before the next periodic look. Both sides of
// the report contract use it: the sidecar reports at once on such a move, and the operator
// evaluates a Channel at once when a report carries one (other reports wait for its tick, so
// thousands of steady reports per second do not crowd out the one that changed).

#include <cstdint>

namespace osmosis::report {

struct LargeChangePolicy {
  uint64_t minAbsolute = 100;  // ignore moves smaller than this...
  double relative = 0.5;       // ...or smaller than this share of the last reported value
};

// True when `now` differs enough from `lastReported`. Leaving or reaching zero always counts
// (that is when scaling from or to zero needs to know).
bool largeChange(uint64_t lastReported, uint64_t now, const LargeChangePolicy& policy = {});

}  // namespace osmosis::report
