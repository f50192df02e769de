#pragma once

// A level-triggered reconcile loop (controller-runtime's shape): keys come from informer
// events into a rate-limited queue; N workers call Reconcile(key); an error retries with
// per-item backoff, a requeueAfter comes back after that delay, success forgets the key's
// failures. Every log line of one reconcile carries the same reconcile id.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/log/logger.hpp"
#include "common/metrics/registry.hpp"
#include "common/util/result.hpp"
#include "operator/kube/queue/work_queue.hpp"

namespace osmosis::kube {

struct Request {
  std::string ns;
  std::string name;
  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
  static Request fromKey(const std::string& key);
};

struct ReconcileResult {
  bool requeue = false;                       // again, with rate-limited backoff
  std::chrono::milliseconds requeueAfter{0};  // again after this long (periodic resync)
};

// Log fields for everything one reconcile says: controller, object, reconcile id.
class ReconcileLog {
 public:
  ReconcileLog(std::string controller, const Request& req, std::string reconcileId);
  const std::string& reconcileId() const { return id_; }
  void debug(std::string_view msg, const log::Fields& extra = {}) const {
    write(log::Level::kDebug, msg, extra);
  }
  void info(std::string_view msg, const log::Fields& extra = {}) const {
    write(log::Level::kInfo, msg, extra);
  }
  void warn(std::string_view msg, const log::Fields& extra = {}) const {
    write(log::Level::kWarn, msg, extra);
  }
  void error(std::string_view msg, const log::Fields& extra = {}) const {
    write(log::Level::kError, msg, extra);
  }

 private:
  void write(log::Level level, std::string_view msg, const log::Fields& extra) const;
  log::Fields base_;
  std::string id_;
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual Result<ReconcileResult> reconcile(const Request& request, const ReconcileLog& log) = 0;
};

struct ControllerStats {
  uint64_t reconciles = 0;
  uint64_t errors = 0;
};

class Controller {
 public:
  Controller(std::string name, Reconciler& reconciler, WorkQueue& queue, int workers = 2);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Counts reconciles, errors and durations there (osmosis_reconcile_*{controller=name}).
  void setMetrics(metrics::Registry* registry) { metrics_ = registry; }
  void start();
  // Shuts the queue down and waits for in-progress reconciles to finish.
  void stop();
  ControllerStats stats() const { return {reconciles_.load(), errors_.load()}; }
  const std::string& name() const { return name_; }

 private:
  void worker();
  void processOne(const std::string& key);

  std::string name_;
  Reconciler& reconciler_;
  WorkQueue& queue_;
  int workers_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> reconciles_{0};
  std::atomic<uint64_t> errors_{0};
  Random random_;
  metrics::Registry* metrics_ = nullptr;
};

}  // namespace osmosis::kube
