#pragma once

// Kubernetes Events (core/v1) with client-go's correlation: the same event for the same object
// again bumps `count` and `lastTimestamp` on the existing Event instead of creating another;
// a per-object token bucket (burst 25, then one per 5 minutes) stops an event storm.
// Sending happens on a background thread, so a slow API server never blocks a reconcile.

#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "operator/kube/client/client.hpp"

namespace osmosis::kube {

struct ObjectRef {
  std::string apiVersion;
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;
  std::string resourceVersion;
  static ObjectRef from(const nlohmann::json& object);
};

struct EventRecorderOptions {
  std::string component = "osmosis-operator";
  std::string instance;  // e.g. the pod name
  int burst = 25;
  double refillPerSecond = 1.0 / 300;
  size_t cacheSize = 4096;
  size_t queueLimit = 1000;
};

struct EventStats {
  uint64_t created = 0;
  uint64_t aggregated = 0;   // sent as a count bump of an existing Event
  uint64_t rateLimited = 0;  // dropped by the spam filter
  uint64_t dropped = 0;      // queue full
  uint64_t failed = 0;       // the API server refused
};

class EventRecorder {
 public:
  // An Event's message is cut to this (the events API stores at most 1 kB).
  static constexpr size_t kMaxMessageBytes = 1024;

  EventRecorder(Client& client, EventRecorderOptions options,
                const Clock& clock = RealClock::instance());
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void normal(const ObjectRef& ref, const std::string& reason, const std::string& message) {
    record(ref, "Normal", reason, message);
  }
  void warning(const ObjectRef& ref, const std::string& reason, const std::string& message) {
    record(ref, "Warning", reason, message);
  }
  void record(const ObjectRef& ref, const std::string& type, const std::string& reason,
              const std::string& message);

  // Waits until everything recorded so far was sent (or failed); false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  EventStats stats() const;

 private:
  struct Pending {
    ObjectRef ref;
    std::string type, reason, message;
    WallTime at;
  };
  struct Sent {
    std::string eventName;
    std::string ns;
    int count = 0;
    std::string firstTimestamp;
  };
  void loop();
  void send(const Pending& p);

  Client& client_;
  EventRecorderOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  std::deque<Pending> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  EventStats stats_;
  std::map<std::string, std::unique_ptr<TokenBucket>> spam_;  // per object
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::pair<Sent, std::list<std::string>::iterator>> sent_;
  std::thread thread_;
};

}  // namespace osmosis::kube
