#include "operator/kube/controller/controller.hpp"

#include <cstdio>

#include "common/process/guarded.hpp"

namespace osmosis::kube {

Request Request::fromKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

ReconcileLog::ReconcileLog(std::string controller, const Request& req, std::string reconcileId)
    : id_(std::move(reconcileId)) {
  base_ = {{"controller", std::move(controller)}, {"name", req.name}, {"reconcileID", id_}};
  if (!req.ns.empty()) base_["namespace"] = req.ns;
}

void ReconcileLog::write(log::Level level, std::string_view msg, const log::Fields& extra) const {
  auto& logger = log::Logger::global();
  if (!logger.enabled(level)) return;
  log::Fields fields = base_;
  if (extra.is_object()) fields.update(extra);
  logger.write(level, msg, fields);
}

Controller::Controller(std::string name, Reconciler& reconciler, WorkQueue& queue, int workers)
    : name_(std::move(name)),
      reconciler_(reconciler),
      queue_(queue),
      workers_(std::max(1, workers)) {}

Controller::~Controller() {
  stop();
}

void Controller::start() {
  for (int i = 0; i < workers_; ++i)
    threads_.emplace_back([this] { guarded("reconciler", [this] { worker(); }); });
}

void Controller::stop() {
  queue_.shutDown();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Controller::worker() {
  while (auto key = queue_.get()) {
    processOne(*key);
    queue_.done(*key);
  }
}

void Controller::processOne(const std::string& key) {
  char id[17];
  std::snprintf(id, sizeof id, "%08x%08x", static_cast<unsigned>(random_.uniform() * 4294967295.0),
                static_cast<unsigned>(random_.uniform() * 4294967295.0));
  Request req = Request::fromKey(key);
  ReconcileLog rlog(name_, req, id);
  auto start = std::chrono::steady_clock::now();
  Result<ReconcileResult> result = [&]() -> Result<ReconcileResult> {
    try {
      return reconciler_.reconcile(req, rlog);
    } catch (const std::exception& e) {
      // A bug, not an expected failure: say so loudly, keep the process, retry with backoff.
      return makeError(Error::Code::kInternal, std::string("reconcile threw: ") + e.what());
    }
  }();
  ++reconciles_;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  if (metrics_) {
    metrics::Labels labels{{"controller", name_}};
    metrics_->counter("osmosis_reconcile_total", "Reconciles run", labels).inc();
    metrics_
        ->histogram("osmosis_reconcile_duration_seconds", "Time spent in one reconcile",
                    metrics::latencyBuckets(), labels)
        .observe(static_cast<double>(ms) / 1000.0);
    if (!result)
      metrics_->counter("osmosis_reconcile_errors_total", "Reconciles that failed", labels).inc();
  }
  if (!result) {
    ++errors_;
    rlog.error("reconcile failed", {{"error", result.error().message},
                                    {"retries", queue_.numRequeues(key)},
                                    {"durationMs", ms}});
    queue_.addRateLimited(key);
    return;
  }
  rlog.debug("reconciled", {{"durationMs", ms}});
  if (result->requeueAfter.count() > 0) {
    queue_.forget(key);
    queue_.addAfter(key, result->requeueAfter);
  } else if (result->requeue) {
    queue_.addRateLimited(key);
  } else {
    queue_.forget(key);
  }
}

}  // namespace osmosis::kube
