#pragma once

// What one scaler's run cost and delivered, from the recorded run.
//  - Wait: FIFO on the fluid queue. The cumulative departures reach a message's position in
//    the cumulative arrivals at the time it is taken; the difference is its wait. Messages are
//    weighed by count (each step's arrivals in four equal parts). Messages still waiting when
//    the run ends count with their wait so far (and are reported).
//  - Replica-seconds: the replicas asked for (starting pods cost too), integrated over time.
//  - Efficiency: work / replica-seconds, with work = messages taken / per-pod rate, the
//    replica-seconds a perfect scaler with instant pods would pay.
//  - First burst: from the first second with arrivals until arrivals stop for 10 s (at most
//    300 s). It needs ceil(largest 10 s average arrival rate in it / per-pod rate) replicas;
//    its peak is the most replicas asked for from its start to 60 s after its end.

#include <string>
#include <vector>

#include "hack/sim/trace.hpp"

namespace osmosis::sim {

struct Sample {  // one queue step
  double t = 0;
  double arrived = 0;   // cumulative, after the step
  double departed = 0;  // cumulative, after the step
  int replicas = 0;
  int ready = 0;
  double backlog = 0;
};

struct Summary {
  std::string scaler;
  double p50 = 0, p99 = 0, maxWait = 0;  // seconds
  double replicaSeconds = 0;
  double efficiency = 0;
  double changesPerHour = 0;
  int peakReplicas = 0;
  int burstNeeded = 0;
  int burstPeak = 0;
  double unserved = 0;  // messages still waiting at the end
};

struct FirstBurst {
  double start = 0, end = 0;
  int needed = 0;
};

FirstBurst firstBurst(const Trace& trace, double perPodRate);

Summary summarize(const std::string& scaler, const std::vector<Sample>& samples, const Trace& trace,
                  const Model& model, int changes);

}  // namespace osmosis::sim
