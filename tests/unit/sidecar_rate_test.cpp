#include <cmath>

#include <gtest/gtest.h>

#include "common/report/large_change.hpp"
#include "sidecar/report/rate.hpp"

namespace osmosis::sidecar {
namespace {

using namespace std::chrono_literals;

TEST(RateMeter, FirstIntervalSeedsThenSmooths) {
  RateMeter m(5s);
  SteadyTime t0{};
  EXPECT_EQ(m.update(0, t0), 0);
  EXPECT_DOUBLE_EQ(m.update(100, t0 + 1s), 100);  // 100 msgs in 1 s
  // Rate drops to 0: one second moves the average by 1 - e^(-1/5) of the way.
  double r = m.update(100, t0 + 2s);
  EXPECT_NEAR(r, 100 * std::exp(-0.2), 1e-9);
  // Long steady 50/s converges to 50.
  uint64_t total = 100;
  for (int i = 3; i < 60; ++i) {
    total += 50;
    r = m.update(total, t0 + std::chrono::seconds(i));
  }
  EXPECT_NEAR(r, 50, 0.1);
}

TEST(RateMeter, IrregularIntervalsWeighByTime) {
  RateMeter a(5s);
  RateMeter b(5s);
  SteadyTime t0{};
  a.update(0, t0);
  b.update(0, t0);
  a.update(10, t0 + 1s);
  b.update(10, t0 + 1s);
  // Same idle time in one step or in four: same result.
  double one = a.update(10, t0 + 5s);
  double four = 0;
  for (int i = 2; i <= 5; ++i)
    four = b.update(10, t0 + std::chrono::seconds(i));
  EXPECT_NEAR(one, four, 1e-9);
}

TEST(RateMeter, IgnoresZeroIntervalsAndCounterResets) {
  RateMeter m;
  SteadyTime t0{};
  m.update(5, t0);
  EXPECT_EQ(m.update(10, t0), 0);
  EXPECT_EQ(m.update(3, t0 + 1s), 0);  // going backwards never gives a negative rate
}

TEST(BusyMeter, MeasuresShareOfTimeBusy) {
  BusyMeter b;
  SteadyTime t0{};
  b.setBusy(false, t0);
  b.setBusy(true, t0 + 250ms);
  b.setBusy(false, t0 + 750ms);
  EXPECT_NEAR(b.takeFraction(t0 + 1s), 0.5, 1e-9);
  b.setBusy(true, t0 + 1500ms);
  EXPECT_NEAR(b.takeFraction(t0 + 2s), 0.5, 1e-9);
  EXPECT_NEAR(b.takeFraction(t0 + 3s), 1.0, 1e-9);  // still busy through the whole window
}

TEST(LargeChange, ZeroCrossingsAlwaysCount) {
  EXPECT_TRUE(report::largeChange(0, 1));
  EXPECT_TRUE(report::largeChange(5, 0));
  EXPECT_FALSE(report::largeChange(0, 0));
}

TEST(LargeChange, NeedsBothAbsoluteAndRelativeMove) {
  EXPECT_FALSE(report::largeChange(1000, 1050));  // small
  EXPECT_FALSE(report::largeChange(1000, 1400));  // 40%
  EXPECT_TRUE(report::largeChange(1000, 1500));
  EXPECT_TRUE(report::largeChange(1000, 400));
  EXPECT_FALSE(report::largeChange(10, 60));  // 500% but only 50 messages
  EXPECT_TRUE(report::largeChange(10, 500));
  report::LargeChangePolicy strict{10, 0.1};
  EXPECT_TRUE(report::largeChange(100, 115, strict));
}

}  // namespace
}  // namespace osmosis::sidecar
