#pragma once

// Time and randomness as injected dependencies, so backoff, queues, leases and the autoscaler
// can be tested without sleeping.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace osmosis::kube {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
  virtual WallTime wallNow() const = 0;
};

class RealClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  static const RealClock& instance() {
    static const RealClock clock;
    return clock;
  }
};

// Tests move time by hand.
class FakeClock final : public Clock {
 public:
  SteadyTime now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  WallTime wallNow() const override {
    std::lock_guard lock(mu_);
    return WallTime(std::chrono::duration_cast<WallTime::duration>(now_.time_since_epoch())) +
           std::chrono::hours(24 * 365 * 56);
  }
  void advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  SteadyTime now_{std::chrono::hours(1)};
};

// Uniform random numbers in [0, 1); thread-safe. Seedable for tests.
class Random {
 public:
  explicit Random(uint64_t seed = std::random_device{}()) : gen_(seed) {}
  double uniform() {
    std::lock_guard lock(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;
};

}  // namespace osmosis::kube
