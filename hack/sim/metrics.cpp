#include "hack/sim/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "hack/sim/world.hpp"

namespace osmosis::sim {

FirstBurst firstBurst(const Trace& trace, double perPodRate) {
  FirstBurst b;
  const auto& r = trace.rates;
  size_t start = 0;
  while (start < r.size() && r[start] <= 0)
    ++start;
  if (start == r.size()) return b;
  size_t end = start, quiet = 0;
  for (size_t s = start; s < r.size() && s < start + 300; ++s) {
    quiet = r[s] > 0 ? 0 : quiet + 1;
    end = s + 1;
    if (quiet >= 10) break;
  }
  double largest = 0;
  for (size_t s = start; s < end; ++s) {
    double sum = 0;
    for (size_t k = s; k < s + 10; ++k)
      sum += k < r.size() ? r[k] : 0;
    largest = std::max(largest, sum / 10);
  }
  b.start = static_cast<double>(start);
  b.end = static_cast<double>(end);
  b.needed = std::max(1, static_cast<int>(std::ceil(largest / perPodRate - 1e-9)));
  return b;
}

Summary summarize(const std::string& scaler, const std::vector<Sample>& samples, const Trace& trace,
                  const Model& model, int changes) {
  Summary s;
  s.scaler = scaler;
  if (samples.empty()) return s;
  // Waits: each step's arrivals in four parts, each taken when departures reach it.
  std::vector<std::pair<double, double>> waits;  // (wait, messages)
  double prevArrived = 0;
  size_t k = 0;  // first sample whose departures may reach the position
  double total = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const double a = samples[i].arrived - prevArrived;
    if (a > 1e-12) {
      for (int part = 0; part < 4; ++part) {
        const double pos = prevArrived + a * (part + 0.5) / 4;
        const double arrivedAt = samples[i].t - kStep + kStep * (part + 0.5) / 4;
        while (k < samples.size() && samples[k].departed + 1e-9 < pos)
          ++k;
        double takenAt = 0;
        if (k == samples.size()) {
          takenAt = samples.back().t;
          s.unserved += a / 4;
        } else {
          const double before = k > 0 ? samples[k - 1].departed : 0;
          const double stepTaken = samples[k].departed - before;
          const double frac = stepTaken > 0 ? std::clamp((pos - before) / stepTaken, 0.0, 1.0) : 1;
          takenAt = samples[k].t - kStep + kStep * frac;
        }
        waits.emplace_back(std::max(0.0, takenAt - arrivedAt), a / 4);
        total += a / 4;
      }
    }
    prevArrived = samples[i].arrived;
  }
  std::sort(waits.begin(), waits.end());
  const auto quantile = [&](double q) {
    double acc = 0;
    for (const auto& [w, n] : waits) {
      acc += n;
      if (acc >= q * total) return w;
    }
    return waits.empty() ? 0.0 : waits.back().first;
  };
  s.p50 = quantile(0.50);
  s.p99 = quantile(0.99);
  s.maxWait = waits.empty() ? 0 : waits.back().first;

  const FirstBurst burst = firstBurst(trace, model.perPodRate);
  s.burstNeeded = burst.needed;
  for (const Sample& x : samples) {
    s.replicaSeconds += x.replicas * kStep;
    s.peakReplicas = std::max(s.peakReplicas, x.replicas);
    if (x.t >= burst.start && x.t <= burst.end + 60)
      s.burstPeak = std::max(s.burstPeak, x.replicas);
  }
  const double work = samples.back().departed / model.perPodRate;
  s.efficiency = s.replicaSeconds > 0 ? work / s.replicaSeconds : 0;
  s.changesPerHour = changes / (samples.back().t / 3600);
  return s;
}

}  // namespace osmosis::sim
