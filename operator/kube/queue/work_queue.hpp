#pragma once

// A rate-limited work queue with client-go's guarantees:
// - a key is never handed to two workers at once (added while processing -> handed out again
//   after done());
// - adding a key already waiting is a no-op (duplicates merge);
// - addRateLimited waits per the rate limiter (per-item exponential backoff), forget resets it;
// - addAfter delays an add; delays are measured on the injected clock.
// And one from controller-runtime's priority queue: a key added now (an event, a poke) is
// handed out before keys that come back from addAfter/addRateLimited (periodic requeues,
// retries). Under load the periodic ones wait, not the Channel whose backlog just jumped
// (500 Channels ticking every second kept the workers busy, and a poked key waited behind
// them: hack/bench/load).

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "operator/kube/queue/rate_limiter.hpp"
#include "operator/kube/util/clock.hpp"

namespace osmosis::kube {

class WorkQueue {
 public:
  // With startTimer=false nothing moves delayed items but pumpDelayed() (for tests).
  WorkQueue(std::unique_ptr<RateLimiter> limiter, const Clock& clock = RealClock::instance(),
            bool startTimer = true);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void addAfter(const std::string& key, std::chrono::nanoseconds delay);
  void addRateLimited(const std::string& key);
  void forget(const std::string& key);
  int numRequeues(const std::string& key);

  // Blocks until a key is ready or the queue shuts down (nullopt). After shutDown() no key is
  // handed out, even if some wait: a stopping controller finishes what is in flight and no
  // more (draining 500 Channels' keys made a SIGTERM take over 30 s under load); whoever runs
  // next lists everything again.
  std::optional<std::string> get();
  // Like get(), but gives up after `timeout`.
  std::optional<std::string> tryGet(std::chrono::milliseconds timeout);
  void done(const std::string& key);

  void shutDown();
  bool shuttingDown() const;
  size_t len() const;         // keys ready to be handed out
  size_t delayedLen() const;  // keys waiting for their time

  // Moves delayed keys whose time has come into the queue.
  void pumpDelayed();

 private:
  enum class Lane { kNow, kLater };
  void addLocked(const std::string& key, Lane lane);
  std::string popLocked();
  void timerLoop();

  std::unique_ptr<RateLimiter> limiter_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::condition_variable timerCv_;
  std::deque<std::string> now_;    // added by add(): handed out first
  std::deque<std::string> queue_;  // came back from a delay
  std::set<std::string> inNow_;    // keys waiting in now_, or to go there after done()
  std::set<std::string> dirty_;
  std::set<std::string> processing_;
  std::multimap<SteadyTime, std::string> delayed_;
  std::map<std::string, SteadyTime> delayedAt_;  // earliest time per key (dedup)
  bool shutdown_ = false;
  std::thread timer_;
};

}  // namespace osmosis::kube
