#pragma once

// List + watch with client-go reflector semantics, feeding a Store and event handlers:
// list, then watch from the list's resourceVersion with bookmarks and a random 5-10 minute
// timeout; take the resourceVersion of every event (bookmarks too); on 410 Gone (an HTTP
// status or an ERROR event) relist from scratch; on other failures re-watch from the last
// resourceVersion after a jittered backoff.

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "operator/kube/cache/store.hpp"
#include "operator/kube/client/client.hpp"

namespace osmosis::kube {

struct EventHandlers {
  std::function<void(const ObjectPtr&)> onAdd;
  std::function<void(const ObjectPtr& oldObj, const ObjectPtr& newObj)> onUpdate;
  std::function<void(const ObjectPtr&)> onDelete;
};

struct InformerOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t pageSize = 500;
  std::chrono::seconds minWatchTimeout{300};
  std::chrono::seconds maxWatchTimeout{600};
  BackoffPolicy backoff{std::chrono::milliseconds(800), 2.0, 1.0, std::chrono::milliseconds(30000)};
};

struct InformerStats {
  uint64_t lists = 0;
  uint64_t watches = 0;
  uint64_t events = 0;
  uint64_t relistsAfterGone = 0;
  uint64_t errors = 0;
};

class Informer {
 public:
  Informer(Client& client, Resource resource, std::string ns, InformerOptions options = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers run on the informer's thread, in event order; keep them quick (enqueue a key).
  void addHandlers(EventHandlers handlers);
  void start();
  void stop();
  bool hasSynced() const { return synced_.load(); }
  bool waitForSync(std::chrono::milliseconds timeout) const;

  const Store& store() const { return store_; }
  std::string lastResourceVersion() const;
  InformerStats stats() const;
  const Resource& resource() const { return resource_; }
  const std::string& ns() const { return ns_; }

 private:
  void run();
  void dispatch(const Delta& d);
  bool listOnce();

  Client& client_;
  Resource resource_;
  std::string ns_;
  InformerOptions options_;
  Store store_;
  std::vector<EventHandlers> handlers_;
  StopSource stop_;
  std::thread thread_;
  std::atomic<bool> synced_{false};
  mutable std::mutex mu_;
  std::string resourceVersion_;
  InformerStats stats_;
  Random random_;
};

}  // namespace osmosis::kube
