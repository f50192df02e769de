#include "gateway/server/work_pool.hpp"

#include "common/log/logger.hpp"

namespace osmosis::gateway {
namespace {

void runGuarded(const std::function<void()>& fn, const char* what) {
  try {
    fn();
  } catch (const std::exception& e) {
    log::error("gateway work failed", {{"what", what}, {"error", e.what()}});
  } catch (...) {
    log::error("gateway work failed", {{"what", what}, {"error", "unknown exception"}});
  }
}

}  // namespace

WorkPool::WorkPool(int threads, size_t maxQueued) : maxQueued_(maxQueued) {
  for (int i = 0; i < std::max(threads, 1); ++i)
    threads_.emplace_back([this] { run(); });
}

WorkPool::~WorkPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

bool WorkPool::submit(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= maxQueued_) return false;
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
  return true;
}

void WorkPool::run() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    runGuarded(work, "request");
  }
}

Timers::Timers() : thread_([this] { run(); }) {}

Timers::~Timers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Timers::at(Clock::time_point when, std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    due_.emplace(when, std::move(fn));
  }
  cv_.notify_all();
}

void Timers::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = due_.begin();
    if (first->first > Clock::now()) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    auto fn = std::move(first->second);
    due_.erase(first);
    lock.unlock();
    runGuarded(fn, "timer");
    lock.lock();
  }
}

}  // namespace osmosis::gateway
