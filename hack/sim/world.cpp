#include "hack/sim/world.hpp"

#include <algorithm>
#include <cmath>

namespace osmosis::sim {
namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Uniform in (0, 1) from a counter: the same (seed, pod, second, draw) always gives the same.
double uniform(uint64_t seed, int pod, int64_t second, int draw) {
  uint64_t h = splitmix(seed);
  h = splitmix(h ^ static_cast<uint64_t>(pod));
  h = splitmix(h ^ static_cast<uint64_t>(second));
  h = splitmix(h ^ static_cast<uint64_t>(draw));
  return (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0;  // 2^53
}

}  // namespace

World::World(const Trace& trace, const Model& model, int startReplicas)
    : trace_(trace), model_(model) {
  for (int i = 0; i < startReplicas; ++i) {
    Pod pod;
    pod.id = nextId_++;
    pod.askedAt = -model.startupSeconds;
    pod.readyAt = 0;
    pods_.push_back(pod);
  }
}

int World::readyPods() const {
  return static_cast<int>(
      std::count_if(pods_.begin(), pods_.end(), [&](const Pod& p) { return p.ready(now_); }));
}

double World::inFlight() const {
  double sum = 0;
  for (const Pod& p : pods_)
    sum += p.inFlight;
  return sum;
}

double World::capacityOf(Pod& pod, double at) const {
  if (model_.handler == HandlerTimes::kConstant) return model_.perPodRate;
  const auto second = static_cast<int64_t>(std::floor(at + 1e-9));
  if (pod.capacitySecond == second) return pod.capacity;
  // Handler times with mean concurrency / perPodRate; the pod's capacity this second is
  // concurrency / (their mean over the messages it would take in a second).
  const double mean = model_.concurrency / model_.perPodRate;
  const int draws = std::clamp(static_cast<int>(std::lround(model_.perPodRate)), 1, 1000);
  double total = 0;
  for (int k = 0; k < draws; ++k) {
    const double u = uniform(model_.seed, pod.id, second, k);
    if (model_.handler == HandlerTimes::kPareto) {
      const double alpha = model_.handlerShape;
      total += mean * (alpha - 1) / alpha / std::pow(u, 1 / alpha);
    } else {
      // Lognormal with this mean: exp(mu + sigma z), mu = ln(mean) - sigma^2 / 2; z from the
      // inverse normal by Box-Muller on two draws.
      const double sigma = model_.handlerShape;
      const double u2 = uniform(model_.seed, pod.id, second, k + 1000);
      const double z = std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * u2);
      total += std::exp(std::log(mean) - sigma * sigma / 2 + sigma * z);
    }
  }
  pod.capacitySecond = second;
  pod.capacity = model_.concurrency / (total / draws);
  return pod.capacity;
}

void World::step() {
  const double arrivals = trace_.rateAt(now_) * kStep;
  arrived_ += arrivals;
  const double available = backlog_ + arrivals;
  std::vector<double> caps(pods_.size(), 0);
  double capacity = 0;
  for (size_t i = 0; i < pods_.size(); ++i) {
    if (!pods_[i].ready(now_)) continue;
    caps[i] = capacityOf(pods_[i], now_) * kStep;
    capacity += caps[i];
  }
  const double taken = std::min(available, capacity);
  const double utilisation = capacity > 0 ? taken / capacity : 0;
  backlog_ = available - taken;
  departed_ += taken;
  replicaSeconds_ += static_cast<double>(pods_.size()) * kStep;
  now_ = static_cast<double>(++steps_) * kStep;
  // In flight: each ready pod holds up to its concurrency of what remains, in proportion.
  const int ready = readyPods();
  for (size_t i = 0; i < pods_.size(); ++i) {
    Pod& pod = pods_[i];
    if (caps[i] <= 0) {
      pod.inFlight = 0;
      continue;
    }
    const double share = caps[i] / capacity;
    pod.processed += taken * share;
    pod.busyTime += utilisation * kStep;
    pod.inFlight = std::min<double>(model_.concurrency, backlog_ / std::max(1, ready));
    // Once a second: the sidecar's smoothed rate and the CPU model's busy history.
    const double whole = std::round(now_);
    if (std::abs(now_ - whole) < kStep / 2) {
      const double perSecond = pod.processed - pod.lastSecondProcessed;
      pod.lastSecondProcessed = pod.processed;
      pod.smoothedRate += (1 - std::exp(-1.0 / 5)) * (perSecond - pod.smoothedRate);
      const double cap = capacityOf(pod, now_ - kStep);
      pod.busyBySecond.push_back(cap > 0 ? std::min(1.0, perSecond / cap) : 0);
      if (pod.busyBySecond.size() > 30) pod.busyBySecond.pop_front();
    }
  }
}

void World::setReplicas(int replicas) {
  replicas = std::max(0, replicas);
  if (replicas == this->replicas()) return;
  ++changes_;
  while (this->replicas() < replicas) {
    Pod pod;
    pod.id = nextId_++;
    pod.askedAt = now_;
    pod.readyAt = now_ + model_.startupSeconds;
    pod.busySince = pod.readyAt;
    pods_.push_back(pod);
  }
  while (this->replicas() > replicas) {
    // Not ready first, then the newest.
    auto victim = pods_.end() - 1;
    for (auto it = pods_.end(); it != pods_.begin();) {
      --it;
      if (!it->ready(now_)) {
        victim = it;
        break;
      }
    }
    pods_.erase(victim);
  }
}

}  // namespace osmosis::sim
