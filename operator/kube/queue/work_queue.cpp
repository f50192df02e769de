#include "operator/kube/queue/work_queue.hpp"

#include <algorithm>

namespace osmosis::kube {

WorkQueue::WorkQueue(std::unique_ptr<RateLimiter> limiter, const Clock& clock, bool startTimer)
    : limiter_(std::move(limiter)), clock_(clock) {
  if (startTimer) timer_ = std::thread([this] { timerLoop(); });
}

WorkQueue::~WorkQueue() {
  shutDown();
  if (timer_.joinable()) timer_.join();
}

void WorkQueue::addLocked(const std::string& key, Lane lane) {
  if (shutdown_) return;
  const bool now = lane == Lane::kNow;
  if (dirty_.count(key)) {
    if (!now || inNow_.count(key)) return;
    inNow_.insert(key);  // promoted: out of the later lane (or it goes to now_ after done())
    if (auto it = std::find(queue_.begin(), queue_.end(), key); it != queue_.end()) {
      queue_.erase(it);
      now_.push_back(key);
    }
    return;
  }
  dirty_.insert(key);
  if (now) inNow_.insert(key);
  if (processing_.count(key)) return;  // done() puts it back
  (now ? now_ : queue_).push_back(key);
  ready_.notify_one();
}

std::string WorkQueue::popLocked() {
  auto& lane = now_.empty() ? queue_ : now_;
  std::string key = std::move(lane.front());
  lane.pop_front();
  inNow_.erase(key);
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  addLocked(key, Lane::kNow);
}

void WorkQueue::addAfter(const std::string& key, std::chrono::nanoseconds delay) {
  if (delay.count() <= 0) return add(key);
  std::lock_guard lock(mu_);
  if (shutdown_) return;
  SteadyTime at = clock_.now() + std::chrono::duration_cast<SteadyTime::duration>(delay);
  auto it = delayedAt_.find(key);
  if (it != delayedAt_.end()) {
    if (it->second <= at) return;  // already due sooner
    for (auto d = delayed_.equal_range(it->second).first;
         d != delayed_.end() && d->first == it->second; ++d) {
      if (d->second == key) {
        delayed_.erase(d);
        break;
      }
    }
  }
  delayed_.emplace(at, key);
  delayedAt_[key] = at;
  timerCv_.notify_one();
}

void WorkQueue::addRateLimited(const std::string& key) {
  addAfter(key, limiter_->when(key));
}

void WorkQueue::forget(const std::string& key) {
  limiter_->forget(key);
}

int WorkQueue::numRequeues(const std::string& key) {
  return limiter_->numRequeues(key);
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  ready_.wait(lock, [this] { return !now_.empty() || !queue_.empty() || shutdown_; });
  if (shutdown_) return std::nullopt;
  return popLocked();
}

std::optional<std::string> WorkQueue::tryGet(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!ready_.wait_for(lock, timeout,
                       [this] { return !now_.empty() || !queue_.empty() || shutdown_; }))
    return std::nullopt;
  if (shutdown_) return std::nullopt;
  return popLocked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutdown_) {
    (inNow_.count(key) ? now_ : queue_).push_back(key);
    ready_.notify_one();
  }
}

void WorkQueue::shutDown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  ready_.notify_all();
  timerCv_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mu_);
  return shutdown_;
}

size_t WorkQueue::len() const {
  std::lock_guard lock(mu_);
  return now_.size() + queue_.size();
}

size_t WorkQueue::delayedLen() const {
  std::lock_guard lock(mu_);
  return delayed_.size();
}

void WorkQueue::pumpDelayed() {
  std::lock_guard lock(mu_);
  SteadyTime now = clock_.now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayedAt_.erase(key);
    addLocked(key, Lane::kLater);
  }
}

void WorkQueue::timerLoop() {
  std::unique_lock lock(mu_);
  while (!shutdown_) {
    if (delayed_.empty()) {
      timerCv_.wait(lock);
      continue;
    }
    auto wait = delayed_.begin()->first - clock_.now();
    if (wait.count() > 0) {
      // Capped so an injected clock that jumps is noticed.
      timerCv_.wait_for(lock, std::min<SteadyTime::duration>(wait, std::chrono::milliseconds(200)));
      continue;
    }
    lock.unlock();
    pumpDelayed();
    lock.lock();
  }
}

}  // namespace osmosis::kube
