#include "common/report/large_change.hpp"

namespace osmosis::report {

bool largeChange(uint64_t lastReported, uint64_t now, const LargeChangePolicy& policy) {
  if ((lastReported == 0) != (now == 0)) return true;
  const uint64_t diff = now > lastReported ? now - lastReported : lastReported - now;
  if (diff < policy.minAbsolute) return false;
  return static_cast<double>(diff) >= policy.relative * static_cast<double>(lastReported);
}

}  // namespace osmosis::report
