#include <gtest/gtest.h>

#include "common/metrics/registry.hpp"

namespace osmosis::metrics {
namespace {

TEST(MetricsRegistry, RendersCountersGaugesAndHistograms) {
  Registry r;
  r.counter("b_total", "B things").inc(3);
  r.counter("a_total", "A things", {{"kind", "x\"y"}}).inc();
  r.gauge("g", "A gauge").set(2.5);
  auto& h = r.histogram("lat_seconds", "Latency", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string text = r.render();
  EXPECT_EQ(text,
            "# HELP a_total A things\n# TYPE a_total counter\na_total{kind=\"x\\\"y\"} 1\n"
            "# HELP b_total B things\n# TYPE b_total counter\nb_total 3\n"
            "# HELP g A gauge\n# TYPE g gauge\ng 2.5\n"
            "# HELP lat_seconds Latency\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.10000000000000001\"} 1\nlat_seconds_bucket{le=\"1\"} 2\n"
            "lat_seconds_bucket{le=\"+Inf\"} 3\nlat_seconds_sum 5.5499999999999998\n"
            "lat_seconds_count 3\n");
}

TEST(MetricsRegistry, SameNameAndLabelsIsTheSameMetric) {
  Registry r;
  r.counter("x_total", "X", {{"a", "1"}}).inc();
  r.counter("x_total", "X", {{"a", "1"}}).inc();
  r.counter("x_total", "X", {{"a", "2"}}).inc();
  EXPECT_EQ(r.counter("x_total", "X", {{"a", "1"}}).value(), 2u);
  EXPECT_THROW(r.gauge("x_total", "X"), std::invalid_argument);
}

TEST(MetricsRegistry, GaugeAddIsAtomic) {
  Gauge g;
  g.add(1.5);
  g.add(-0.5);
  EXPECT_DOUBLE_EQ(g.value(), 1.0);
}

}  // namespace
}  // namespace osmosis::metrics
