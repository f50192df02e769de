#pragma once

// A tiny Prometheus registry: counters, gauges and histograms with fixed labels, rendered in
// the text exposition format (version 0.0.4). Updates are lock-free atomics; registration
// and rendering take a mutex. Metrics live as long as the registry.

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace osmosis::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // upper bounds, ascending, without +Inf
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then the +Inf count (== count()).
  std::vector<uint64_t> cumulative() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sumMicros_{0};  // sum kept in millionths: atomic without CAS loops
};

// Default latency buckets in seconds: 1 ms .. 60 s.
std::vector<double> latencyBuckets();

class Registry {
 public:
  // The same name and labels return the same metric. Names must be valid Prometheus names.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> bounds = latencyBuckets(), const Labels& labels = {});

  // The text exposition format, families sorted by name.
  std::string render() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    Kind kind;
    std::string help;
    std::map<std::string, Counter*> counters;  // rendered label set -> metric
    std::map<std::string, Gauge*> gauges;
    std::map<std::string, Histogram*> histograms;
  };
  Family& family(const std::string& name, const std::string& help, Kind kind);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::deque<Counter> counterStore_;
  std::deque<Gauge> gaugeStore_;
  std::deque<Histogram> histogramStore_;
};

// Renders {a="x",b="y"} (empty string for no labels), escaping values as the format requires.
std::string renderLabels(const Labels& labels);

}  // namespace osmosis::metrics
