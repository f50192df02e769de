#include "sidecar/report/rate.hpp"

#include <algorithm>
#include <cmath>

namespace osmosis::sidecar {

double RateMeter::update(uint64_t total, SteadyTime now) {
  if (!last_) {
    last_ = now;
    lastTotal_ = total;
    return rate_;
  }
  const double dt = std::chrono::duration<double>(now - *last_).count();
  if (dt <= 0) return rate_;
  const double instant = static_cast<double>(total - std::min(total, lastTotal_)) / dt;
  if (!primed_) {
    rate_ = instant;  // the first full interval seeds the average
    primed_ = true;
  } else {
    const double alpha = 1.0 - std::exp(-dt / tau_.count());
    rate_ += alpha * (instant - rate_);
  }
  last_ = now;
  lastTotal_ = total;
  return rate_;
}

void BusyMeter::setBusy(bool busy, SteadyTime now) {
  if (!started_) {
    started_ = true;
    windowStart_ = now;
  }
  if (busy == busy_) return;
  if (busy_) busyInWindow_ += now - std::max(since_, windowStart_);
  busy_ = busy;
  since_ = now;
}

double BusyMeter::takeFraction(SteadyTime now) {
  if (!started_) {
    started_ = true;
    windowStart_ = now;
    return 0;
  }
  auto busy = busyInWindow_;
  if (busy_) busy += now - std::max(since_, windowStart_);
  const auto window = now - windowStart_;
  double f = window.count() > 0 ? std::chrono::duration<double>(busy).count() /
                                      std::chrono::duration<double>(window).count()
                                : (busy_ ? 1.0 : 0.0);
  windowStart_ = now;
  busyInWindow_ = std::chrono::nanoseconds(0);
  return std::clamp(f, 0.0, 1.0);
}

}  // namespace osmosis::sidecar
