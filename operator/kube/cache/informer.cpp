#include "operator/kube/cache/informer.hpp"

#include "common/log/logger.hpp"
#include "common/process/guarded.hpp"

namespace osmosis::kube {

Informer::Informer(Client& client, Resource resource, std::string ns, InformerOptions options)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      options_(std::move(options)) {}

Informer::~Informer() {
  stop();
}

void Informer::addHandlers(EventHandlers handlers) {
  handlers_.push_back(std::move(handlers));
}

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { guarded("informer", [this] { run(); }); });
}

void Informer::stop() {
  stop_.stop();
  if (thread_.joinable()) thread_.join();
}

bool Informer::waitForSync(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!synced_.load()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string Informer::lastResourceVersion() const {
  std::lock_guard lock(mu_);
  return resourceVersion_;
}

InformerStats Informer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Informer::dispatch(const Delta& d) {
  for (const auto& h : handlers_) {
    try {
      switch (d.type) {
        case Delta::Type::kAdded:
          if (h.onAdd) h.onAdd(d.object);
          break;
        case Delta::Type::kUpdated:
          if (h.onUpdate) h.onUpdate(d.oldObject, d.object);
          break;
        case Delta::Type::kDeleted:
          if (h.onDelete) h.onDelete(d.oldObject);
          break;
      }
    } catch (const std::exception& e) {
      // A handler's bug must not stop the watch for every other object.
      log::error("event handler threw", {{"resource", resource_.plural}, {"error", e.what()}});
    }
  }
}

bool Informer::listOnce() {
  auto listed = client_.list(
      resource_, ns_, {options_.labelSelector, options_.fieldSelector, options_.pageSize, "", ""});
  if (!listed) {
    std::lock_guard lock(mu_);
    ++stats_.errors;
    log::Fields fields = {{"resource", resource_.plural},
                          {"namespace", ns_.empty() ? "(all)" : ns_},
                          {"error", listed.error().message}};
    if (isNotFound(listed.error())) fields["hint"] = "is the CustomResourceDefinition installed?";
    log::warn("list failed", fields);
    return false;
  }
  for (const auto& d : store_.replace(std::move(listed->items)))
    dispatch(d);
  std::lock_guard lock(mu_);
  resourceVersion_ = listed->resourceVersion;
  ++stats_.lists;
  synced_.store(true);
  return true;
}

void Informer::run() {
  Backoff backoff(options_.backoff, random_);
  bool needList = true;
  while (!stop_.stopped()) {
    if (needList) {
      if (!listOnce()) {
        if (stop_.sleepFor(backoff.next())) return;
        continue;
      }
      needList = false;
    }
    auto span = options_.maxWatchTimeout - options_.minWatchTimeout;
    int timeout = static_cast<int>(
        options_.minWatchTimeout.count() +
        static_cast<int64_t>(random_.uniform() * static_cast<double>(span.count())));
    WatchOptions wo{lastResourceVersion(), options_.labelSelector, options_.fieldSelector, timeout,
                    true};
    {
      std::lock_guard lock(mu_);
      ++stats_.watches;
    }
    uint64_t seen = 0;
    Status st = client_.watch(
        resource_, ns_, wo,
        [&](WatchEvent& ev) {
          std::string rv = resourceVersionOf(ev.object);
          std::optional<Delta> d;
          if (ev.type == WatchEvent::Type::kAdded || ev.type == WatchEvent::Type::kModified) {
            d = store_.upsert(std::move(ev.object));
          } else if (ev.type == WatchEvent::Type::kDeleted) {
            d = store_.erase(ev.object);
          }
          if (d) dispatch(*d);
          std::lock_guard lock(mu_);
          if (!rv.empty()) resourceVersion_ = rv;
          ++stats_.events;
          ++seen;
          return !stop_.stopped();
        },
        stop_);
    if (stop_.stopped()) return;
    if (st) {
      backoff.reset();  // the server ended the watch (timeout): watch again at once
      continue;
    }
    if (isGone(st.error())) {
      log::info("resourceVersion expired, relisting", {{"resource", resource_.plural},
                                                       {"namespace", ns_.empty() ? "(all)" : ns_},
                                                       {"resourceVersion", wo.resourceVersion}});
      std::lock_guard lock(mu_);
      ++stats_.relistsAfterGone;
      needList = true;
      continue;
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.errors;
    }
    if (seen > 0) backoff.reset();
    auto delay = backoff.next();
    log::warn("watch failed, retrying", {{"resource", resource_.plural},
                                         {"namespace", ns_.empty() ? "(all)" : ns_},
                                         {"error", st.error().message},
                                         {"retryInMs", delay.count()}});
    if (stop_.sleepFor(delay)) return;
  }
}

}  // namespace osmosis::kube
