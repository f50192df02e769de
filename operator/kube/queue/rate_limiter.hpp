#pragma once

// How long a failed item waits before its retry (client-go's workqueue rate limiters).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "operator/kube/util/backoff.hpp"

namespace osmosis::kube {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  virtual std::chrono::nanoseconds when(const std::string& item) = 0;
  virtual void forget(const std::string& item) = 0;
  virtual int numRequeues(const std::string& item) = 0;
};

// base x 2^failures, capped: 5 ms, 10 ms, 20 ms ... 1000 s by default.
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  explicit ItemExponentialRateLimiter(std::chrono::nanoseconds base = std::chrono::milliseconds(5),
                                      std::chrono::nanoseconds cap = std::chrono::seconds(1000))
      : base_(base), cap_(cap) {}
  std::chrono::nanoseconds when(const std::string& item) override;
  void forget(const std::string& item) override;
  int numRequeues(const std::string& item) override;

 private:
  std::mutex mu_;
  std::map<std::string, int> failures_;
  std::chrono::nanoseconds base_, cap_;
};

// An overall token bucket (all items together), so a storm of failures cannot hammer the API.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, const Clock& clock) : bucket_(qps, burst, clock) {}
  std::chrono::nanoseconds when(const std::string&) override { return bucket_.reserve(); }
  void forget(const std::string&) override {}
  int numRequeues(const std::string&) override { return 0; }

 private:
  TokenBucket bucket_;
};

// The longest wait of several limiters (client-go's DefaultControllerRateLimiter shape).
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}
  std::chrono::nanoseconds when(const std::string& item) override;
  void forget(const std::string& item) override;
  int numRequeues(const std::string& item) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// Per-item exponential (5 ms .. 1000 s) and overall 10 qps / 100 burst.
std::unique_ptr<RateLimiter> defaultControllerRateLimiter(const Clock& clock);

}  // namespace osmosis::kube
