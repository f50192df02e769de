#include "operator/kube/manager/manager.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>
#include <thread>

#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/process/guarded.hpp"

namespace osmosis::kube {

using nlohmann::json;

bool specOrLifecycleChanged(const ObjectPtr& before, const ObjectPtr& after) {
  const auto& a = (*before)["metadata"];
  const auto& b = (*after)["metadata"];
  return a.value("generation", 0) != b.value("generation", 0) ||
         a.contains("deletionTimestamp") != b.contains("deletionTimestamp") ||
         a.value("finalizers", json()) != b.value("finalizers", json());
}

struct Manager::Registered {
  std::string name;
  std::unique_ptr<WorkQueue> queue;
  std::unique_ptr<Controller> controller;
};

ControllerBuilder& ControllerBuilder::watches(Informer& informer, UpdateFilter filter) {
  watches_.emplace_back(&informer, std::move(filter));
  return *this;
}

ControllerBuilder& ControllerBuilder::watches(const std::vector<Informer*>& informers,
                                              UpdateFilter filter) {
  for (auto* informer : informers)
    watches_.emplace_back(informer, filter);
  return *this;
}

ControllerBuilder& ControllerBuilder::workers(int n) {
  workers_ = std::max(1, n);
  return *this;
}

WorkQueue& ControllerBuilder::complete(Reconciler& reconciler) {
  auto reg = std::make_unique<Manager::Registered>();
  reg->name = name_;
  reg->queue = std::make_unique<WorkQueue>(defaultControllerRateLimiter(RealClock::instance()));
  reg->controller = std::make_unique<Controller>(name_, reconciler, *reg->queue, workers_);
  reg->controller->setMetrics(&manager_.metrics_);
  WorkQueue* queue = reg->queue.get();
  for (auto& watch : watches_) {
    UpdateFilter filter = watch.second;  // (a copy: lambdas do not capture bindings in C++17)
    watch.first->addHandlers({[queue](const ObjectPtr& o) { queue->add(keyOf(*o)); },
                              [queue, filter](const ObjectPtr& before, const ObjectPtr& after) {
                                if (!filter || filter(before, after)) queue->add(keyOf(*after));
                              },
                              [queue](const ObjectPtr& o) { queue->add(keyOf(*o)); }});
  }
  manager_.controllers_.push_back(std::move(reg));
  return *queue;
}

Manager::Manager(Client& client, metrics::Registry& metrics, ManagerOptions options)
    : client_(client), metrics_(metrics), options_(std::move(options)) {}

Manager::~Manager() {
  stopAll();
}

Informer& Manager::informer(const Resource& resource, const std::string& ns) {
  for (auto& i : informers_) {
    if (i->resource().plural == resource.plural && i->resource().group == resource.group &&
        i->ns() == ns)
      return *i;
  }
  informers_.push_back(std::make_unique<Informer>(client_, resource, ns));
  return *informers_.back();
}

std::vector<Informer*> Manager::informers(const Resource& resource,
                                          const std::vector<std::string>& namespaces) {
  if (namespaces.empty()) return {&informer(resource, "")};
  std::vector<Informer*> out;
  for (const auto& ns : namespaces) {
    if (ns.empty()) throw std::invalid_argument("Manager::informers: an empty namespace");
    Informer* i = &informer(resource, ns);
    if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  }
  return out;
}

ControllerBuilder Manager::controller(std::string name) {
  return ControllerBuilder(*this, std::move(name));
}

void Manager::addMetricsCollector(std::function<void(metrics::Registry&)> collect) {
  collectors_.push_back(std::move(collect));
}

bool Manager::ready() const {
  if (!leading_.load()) return true;
  for (const auto& i : informers_)
    if (!i->hasSynced()) return false;
  return true;
}

void Manager::startLeading() {
  leading_ = true;
  for (auto& i : informers_)
    i->start();
  // Controllers start on synced caches, as controller-runtime's do (the subject check must see
  // every older Channel). Waited for on a thread of its own: the elector keeps renewing.
  starter_ = std::thread([this] {
    guarded("manager-start", [this] {
      for (auto& i : informers_) {
        // Short waits, so a stop is never held up; a slow sync is said every 10 s.
        auto said = std::chrono::steady_clock::now();
        while (!stopping_.load() && !i->waitForSync(std::chrono::milliseconds(200))) {
          if (std::chrono::steady_clock::now() - said < std::chrono::seconds(10)) continue;
          log::warn("waiting for the cache to sync",
                    {{"resource", i->resource().plural}, {"namespace", i->ns()}});
          said = std::chrono::steady_clock::now();
        }
      }
      std::lock_guard lock(startMu_);
      if (stopping_.load()) return;
      std::vector<std::string> names;
      for (auto& c : controllers_) {
        c->controller->start();
        names.push_back(c->name);
      }
      log::info("controllers started", {{"controllers", names}});
    });
  });
}

void Manager::stopAll() {
  {
    std::lock_guard lock(startMu_);
    stopping_ = true;
  }
  if (starter_.joinable()) starter_.join();
  // Finish in-flight reconciles before the caches go, and both before the Lease is given up.
  for (auto it = controllers_.rbegin(); it != controllers_.rend(); ++it)
    (*it)->controller->stop();
  for (auto& i : informers_)
    i->stop();
}

std::string Manager::renderMetrics() {
  for (const auto& c : controllers_) {
    metrics_
        .gauge("osmosis_workqueue_depth", "Keys waiting in the work queue",
               {{"controller", c->name}})
        .set(static_cast<double>(c->queue->len()));
  }
  // Summed per resource: with one informer per watched namespace, the series stay the same.
  std::map<std::string, std::array<uint64_t, 3>> byResource;  // objects, events, relists
  for (const auto& i : informers_) {
    const auto st = i->stats();
    auto& sums = byResource[i->resource().plural];
    sums[0] += i->store().size();
    sums[1] += st.events;
    sums[2] += st.relistsAfterGone;
  }
  for (const auto& [resource, sums] : byResource) {
    metrics::Labels l{{"resource", resource}};
    metrics_.gauge("osmosis_informer_objects", "Objects in an informer's cache", l)
        .set(static_cast<double>(sums[0]));
    metrics_.gauge("osmosis_watch_events", "Watch events received", l)
        .set(static_cast<double>(sums[1]));
    metrics_.gauge("osmosis_watch_relists", "Relists after 410 Gone", l)
        .set(static_cast<double>(sums[2]));
  }
  metrics_.gauge("osmosis_leader", "1 while this replica leads").set(leading_.load() ? 1 : 0);
  for (const auto& collect : collectors_)
    collect(metrics_);
  return metrics_.render();
}

int Manager::run(ShutdownSignal& shutdown) {
  auto server = http::Server::start(
      options_.healthHost, options_.healthPort, [this](const http::Request& req) -> http::Response {
        // The same rule as the sidecar's: probes and scrapers only read.
        if (req.method != "GET" && req.method != "HEAD")
          return {405, "text/plain; charset=utf-8", "use GET\n", {}};
        if (req.path() == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}};
        if (req.path() == "/readyz") {
          if (!ready()) return {503, "text/plain; charset=utf-8", "cache not synced\n", {}};
          return {200, "text/plain; charset=utf-8", "ok\n", {}};
        }
        if (req.path() == "/metrics")
          return {200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics(), {}};
        return {404, "text/plain; charset=utf-8", "not found\n", {}};
      });
  if (!server) {
    log::error("cannot listen",
               {{"address", options_.healthHost + ":" + std::to_string(options_.healthPort)},
                {"error", server.error().message}});
    return 1;
  }
  boundPort_ = server.value()->port();
  log::info("serving /healthz, /readyz, /metrics",
            {{"address", options_.healthHost + ":" + std::to_string(boundPort_.load())}});

  int exitCode = 0;
  StopSource stop;
  std::thread elector;
  if (options_.leaderElection) {
    elector = std::thread([&] {
      guarded("leader-election", [&] {
        LeaderElector e(client_, *options_.leaderElection,
                        {[&] { startLeading(); },
                         [&] {
                           leading_ = false;
                           if (!stop.stopped()) {
                             // Lost the lease while running: stop at once so two replicas never
                             // act together.
                             exitCode = 1;
                             shutdown.request();
                           }
                         },
                         nullptr});
        e.run(stop);
      });
    });
  } else {
    startLeading();
  }
  shutdown.wait();
  stopAll();
  stop.stop();
  if (elector.joinable()) elector.join();  // releases the Lease
  server.value()->stop();
  return exitCode;
}

}  // namespace osmosis::kube
