#include "operator/kube/events/event_recorder.hpp"

#include <cstdio>

#include "common/log/logger.hpp"
#include "common/process/guarded.hpp"
#include "common/util/json_text.hpp"
#include "operator/kube/api/time_format.hpp"

namespace osmosis::kube {

ObjectRef ObjectRef::from(const nlohmann::json& o) {
  ObjectRef r;
  r.apiVersion = o.value("apiVersion", "");
  r.kind = o.value("kind", "");
  if (o.contains("metadata") && o["metadata"].is_object()) {
    const auto& md = o["metadata"];
    r.ns = md.value("namespace", "");
    r.name = md.value("name", "");
    r.uid = md.value("uid", "");
    r.resourceVersion = md.value("resourceVersion", "");
  }
  return r;
}

EventRecorder::EventRecorder(Client& client, EventRecorderOptions options, const Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {
  thread_ = std::thread([this] { guarded("event-recorder", [this] { loop(); }); });
}

EventRecorder::~EventRecorder() {
  flush(std::chrono::seconds(5));
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::record(const ObjectRef& ref, const std::string& type, const std::string& reason,
                           const std::string& message) {
  std::lock_guard lock(mu_);
  const std::string objectKey = ref.kind + "/" + ref.ns + "/" + ref.name + "/" + ref.uid;
  auto& bucket = spam_[objectKey];
  if (!bucket)
    bucket = std::make_unique<TokenBucket>(options_.refillPerSecond, options_.burst, clock_);
  if (!bucket->tryTake()) {
    ++stats_.rateLimited;
    log::debug("event dropped by spam filter", {{"object", objectKey}, {"reason", reason}});
    return;
  }
  if (queue_.size() >= options_.queueLimit) {
    ++stats_.dropped;
    log::warn("event queue full, dropping event", {{"object", objectKey}, {"reason", reason}});
    return;
  }
  // Messages carry text from outside (Secrets, servers, peers): made valid UTF-8 and
  // printable here, once, so no later JSON step can throw on them (issue 16, item 4).
  queue_.push_back({ref, type, printableText(reason, 128), printableText(message, kMaxMessageBytes),
                    clock_.wallNow()});
  cv_.notify_one();
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

EventStats EventRecorder::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void EventRecorder::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    try {
      send(p);
    } catch (const std::exception& e) {
      // An Event is not worth the process: drop it, say so, go on.
      log::error("cannot send event", {{"reason", p.reason}, {"error", e.what()}});
      std::lock_guard failed(mu_);
      ++stats_.failed;
    }
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

void EventRecorder::send(const Pending& p) {
  const std::string ns = p.ref.ns.empty() ? "default" : p.ref.ns;
  const std::string key = p.ref.kind + "/" + ns + "/" + p.ref.name + "/" + p.ref.uid + "/" +
                          p.type + "/" + p.reason + "/" + p.message;
  const std::string now = formatTime(p.at);
  std::optional<Sent> previous;
  {
    std::lock_guard lock(mu_);
    if (auto it = sent_.find(key); it != sent_.end()) previous = it->second.first;
  }
  Sent sent;
  if (previous) {
    sent = *previous;
    sent.count++;
    auto r = client_.patch(resources::events(), ns, sent.eventName, PatchType::kMerge,
                           {{"count", sent.count}, {"lastTimestamp", now}});
    if (r) {
      std::lock_guard lock(mu_);
      ++stats_.aggregated;
    } else if (!isNotFound(r.error())) {
      std::lock_guard lock(mu_);
      ++stats_.failed;
      log::warn("cannot update event", {{"event", sent.eventName}, {"error", r.error().message}});
      return;
    } else {
      previous.reset();  // the Event expired (TTL): create a fresh one
    }
  }
  if (!previous) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".%llx",
                  static_cast<unsigned long long>(p.at.time_since_epoch().count()));  // NOLINT
    sent = {p.ref.name + suffix, ns, 1, now};
    nlohmann::json ev = {{"apiVersion", "v1"},
                         {"kind", "Event"},
                         {"metadata", {{"name", sent.eventName}, {"namespace", ns}}},
                         {"involvedObject",
                          {{"apiVersion", p.ref.apiVersion},
                           {"kind", p.ref.kind},
                           {"namespace", p.ref.ns},
                           {"name", p.ref.name},
                           {"uid", p.ref.uid},
                           {"resourceVersion", p.ref.resourceVersion}}},
                         {"reason", p.reason},
                         {"message", p.message},
                         {"type", p.type},
                         {"count", 1},
                         {"firstTimestamp", now},
                         {"lastTimestamp", now},
                         {"source", {{"component", options_.component}}},
                         {"reportingComponent", options_.component},
                         {"reportingInstance", options_.instance}};
    auto r = client_.create(resources::events(), ns, ev);
    std::lock_guard lock(mu_);
    if (!r) {
      ++stats_.failed;
      log::warn("cannot create event",
                {{"reason", p.reason}, {"object", p.ref.name}, {"error", r.error().message}});
      return;
    }
    ++stats_.created;
  }
  std::lock_guard lock(mu_);
  if (auto it = sent_.find(key); it != sent_.end()) {
    it->second.first = sent;
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return;
  }
  lru_.push_front(key);
  sent_.emplace(key, std::make_pair(sent, lru_.begin()));
  while (sent_.size() > options_.cacheSize) {
    sent_.erase(lru_.back());
    lru_.pop_back();
  }
}

}  // namespace osmosis::kube
