#pragma once

// The simulated system one scaler runs: a fluid FIFO queue and the worker pods.
//
// Queue: fluid (messages are a continuous quantity), stepped every `kStep` seconds. Each step,
// the arrivals of the trace join the queue and the ready pods take from it, each up to its
// capacity for the step; what they take leaves the queue (processing time within a step is not
// modelled, so a message's wait is the time between arriving and being taken). Pods share the
// work in proportion to their capacity. The FIFO wait of every message follows from the
// cumulative arrivals and departures (Metrics).
//
// Pods: asked for at time t, a pod is ready `startupSeconds` later; only ready pods work and
// report. Scale-down removes pods not yet ready first, then the newest ready ones (as the
// ReplicaSet controller ranks them, without a deletion cost). A removed pod's work in flight
// is not modelled (the sidecar drains it on SIGTERM).
//
// Per-pod capacity: `perPodRate`, or with random handler times each pod's capacity of each
// second is concurrency / (mean of the handler times it would draw that second), from a
// deterministic hash of (seed, pod, second), so runs repeat exactly.

#include <cstdint>
#include <deque>
#include <vector>

#include "hack/sim/trace.hpp"

namespace osmosis::sim {

constexpr double kStep = 0.1;  // seconds per queue step

struct Pod {
  int id = 0;
  double askedAt = 0;
  double readyAt = 0;
  double processed = 0;     // messages taken since ready
  double busyTime = 0;      // seconds with work for all of its capacity, since the last report
  double busySince = 0;     // start of that interval
  double inFlight = 0;      // messages it holds now (up to concurrency)
  double smoothedRate = 0;  // processed/s, smoothed like the sidecar's (time constant 5 s)
  double lastSecondProcessed = 0;
  std::deque<double> busyBySecond;  // busy fraction of each of the last 30 s (CPU model)
  int64_t capacitySecond = -1;      // the second `capacity` was drawn for
  double capacity = 0;              // messages/s this second
  bool ready(double now) const { return now + 1e-9 >= readyAt; }
};

class World {
 public:
  World(const Trace& trace, const Model& model, int startReplicas);

  // Advances one step from now() to now() + kStep.
  void step();
  // Sets the replicas the scaler asked for, at now().
  void setReplicas(int replicas);

  double now() const { return now_; }
  int replicas() const { return static_cast<int>(pods_.size()); }
  int readyPods() const;
  double backlog() const { return backlog_; }    // waiting + in flight
  double inFlight() const;                       // the ready pods' in flight
  double arrived() const { return arrived_; }    // cumulative arrivals
  double departed() const { return departed_; }  // cumulative taken by pods
  const std::vector<Pod>& pods() const { return pods_; }
  std::vector<Pod>& pods() { return pods_; }
  const Model& model() const { return model_; }
  const Trace& trace() const { return trace_; }
  int changes() const { return changes_; }
  double replicaSeconds() const { return replicaSeconds_; }

 private:
  double capacityOf(Pod& pod, double at) const;  // messages/s, drawn once a second

  const Trace& trace_;
  Model model_;
  int64_t steps_ = 0;
  double now_ = 0;  // steps_ x kStep (not a running sum: no drift)
  double backlog_ = 0;
  double arrived_ = 0;
  double departed_ = 0;
  double replicaSeconds_ = 0;
  int changes_ = 0;
  int nextId_ = 0;
  std::vector<Pod> pods_;  // in the order asked for
};

}  // namespace osmosis::sim
