#pragma once

// Pure pieces of reporting, with the clock passed in:
//  - RateMeter: processed messages per second, smoothed with an exponentially weighted moving
//    average over time (time constant `tau`), so irregular sampling intervals weigh right.
//  - BusyMeter: the share of time with at least one message in flight.
//  (When a backlog move is worth a report before the next tick: common/report/large_change.)

#include <chrono>
#include <cstdint>
#include <optional>

namespace osmosis::sidecar {

using SteadyTime = std::chrono::steady_clock::time_point;

class RateMeter {
 public:
  explicit RateMeter(std::chrono::duration<double> tau = std::chrono::seconds(5)) : tau_(tau) {}
  // Feeds the running total at `now`; returns the smoothed rate (messages/s).
  double update(uint64_t total, SteadyTime now);
  double rate() const { return rate_; }

 private:
  std::chrono::duration<double> tau_;
  std::optional<SteadyTime> last_;
  uint64_t lastTotal_ = 0;
  double rate_ = 0;
  bool primed_ = false;
};

class BusyMeter {
 public:
  // Call when in-flight changes between zero and non-zero.
  void setBusy(bool busy, SteadyTime now);
  // The busy share since the previous call (or since construction), and restarts the window.
  double takeFraction(SteadyTime now);

 private:
  bool busy_ = false;
  SteadyTime since_{};
  SteadyTime windowStart_{};
  std::chrono::nanoseconds busyInWindow_{0};
  bool started_ = false;
};

}  // namespace osmosis::sidecar
