#pragma once

// A fixed set of threads for the blocking parts of requests (a publish waits for the stream's
// acknowledgement; history reads ask the server), so the HTTP threads never wait on NATS.
// Bounded: a full queue refuses work (the caller answers 503) instead of growing.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace osmosis::gateway {

class WorkPool {
 public:
  WorkPool(int threads, size_t maxQueued);
  ~WorkPool();  // runs what is queued, then joins
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // False when the queue is full or the pool stopped.
  bool submit(std::function<void()> work);

 private:
  void run();
  const size_t maxQueued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Calls functions at a time (Prefer: wait deadlines, keep-alives). One thread.
class Timers {
 public:
  using Clock = std::chrono::steady_clock;
  Timers();
  ~Timers();  // drops what has not run
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;
  void at(Clock::time_point when, std::function<void()> fn);

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::function<void()>> due_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace osmosis::gateway
