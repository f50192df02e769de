#pragma once

// A thread-safe "please stop" flag with callbacks, so a blocked watch stream can be aborted.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace osmosis::kube {

class StopSource {
 public:
  void stop() {
    std::map<uint64_t, std::function<void()>> callbacks;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      callbacks.swap(callbacks_);
    }
    cv_.notify_all();
    for (auto& [id, cb] : callbacks)
      cb();
  }
  bool stopped() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  // Runs `cb` on stop (at once if already stopped) until the returned registration is
  // removed. Callbacks must be cheap and thread-safe.
  uint64_t onStop(std::function<void()> cb) {
    {
      std::lock_guard lock(mu_);
      if (!stopped_) {
        callbacks_.emplace(++nextId_, std::move(cb));
        return nextId_;
      }
    }
    cb();
    return 0;
  }
  void removeOnStop(uint64_t id) {
    std::lock_guard lock(mu_);
    callbacks_.erase(id);
  }
  // Sleeps up to `d`; returns true if stopped meanwhile.
  template <typename Duration>
  bool sleepFor(Duration d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::map<uint64_t, std::function<void()>> callbacks_;
  uint64_t nextId_ = 0;
};

}  // namespace osmosis::kube
