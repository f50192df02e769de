// ConsumerThroughput: the per-pod rate from consumer reads when no pod reports. Each case feeds
// reads once a second (pending, the stream's last sequence, the replicas, ack-pending) and
// expects the measurement after each, so every rule's boundary is one row apart from its other
// side.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "operator/autoscaler/consumer_throughput.hpp"

namespace osmosis::autoscaler {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + 100000s;

struct Read {
  Read(uint64_t p, uint64_t s, int r = 2, std::optional<double> e = std::nullopt, int64_t a = 16)
      : pending(p), sequence(s), replicas(r), expect(e), ackPending(a) {}
  uint64_t pending;
  uint64_t sequence;
  int replicas;
  std::optional<double> expect;  // the measurement this read completes, if any
  int64_t ackPending;            // in flight: 8 per replica unless said
};

struct Case {
  std::string name;
  std::vector<Read> reads;                 // at t0, t0 + 1s, ...
  std::optional<TimePoint> lastScaleUpAt;  // before t0 unless set
};

TEST(ConsumerThroughput, MeasuresDeliveriesPerReplicaWhileMessagesWait) {
  const std::vector<Case> cases = {
      // 2 replicas finish 100/s while 100/s more than that arrive: the stream grows by 200/s,
      // pending by 100/s; finished = 200 x 2 - 100 x 2 = 200 over 2 s = 50/s per replica,
      // measured from minThroughputSpan (2 s) on, over the whole run.
      {"steady run",
       {{100, 1000}, {200, 1200}, {300, 1400, 2, 50.0}, {400, 1600, 2, 50.0}},
       std::nullopt},
      // Pending falls while the pods drain it: what they finish counts the drain too.
      {"draining", {{1000, 5000}, {900, 5000}, {800, 5000, 2, 50.0}}, std::nullopt},
      // A read with nothing pending ends the run (the pods may have had room): start again.
      {"pending empties",
       {{100, 1000}, {200, 1200}, {0, 1400}, {100, 1600}, {200, 1800}, {300, 2000, 2, 50.0}},
       std::nullopt},
      // Other replicas: a new run, measured per its own replicas (4 x 50/s).
      {"replicas change",
       {{100, 1000}, {200, 1200}, {100, 1500, 4}, {100, 1700, 4}, {100, 1900, 4, 50.0}},
       std::nullopt},
      // Scaled up 25 s before t0: pods may still be starting until 30 s (startupGrace).
      {"within startupGrace of a scale-up",
       {{100, 1000},
        {200, 1200},
        {300, 1400},
        {400, 1600},
        {500, 1800},
        {600, 2000},
        {700, 2200},
        {800, 2400, 2, 50.0}},
       t0 - 25s},
      // Nothing finished while messages waited: stuck pods, not a capacity.
      {"stuck", {{100, 1000}, {200, 1100}, {300, 1200}}, std::nullopt},
      // Messages delivered and not yet finished (pods filling their in-flight) are not
      // capacity: 300 delivered in 2 s, of which 100 finished.
      {"in-flight filling",
       {{1000, 5000, 2, std::nullopt, 0},
        {900, 5000, 2, std::nullopt, 80},
        {800, 5000, 2, 25.0, 100}},
       std::nullopt},
      // The same figures again (a restamped read while the stream did not move) are skipped:
      // the run is measured between the reads that carry news, over their own times (200 in
      // 3 s by 2 replicas).
      {"restamped read",
       {{100, 1000}, {100, 1000}, {100, 1000}, {100, 1200, 2, 200.0 / 3 / 2}},
       std::nullopt},
      // The stream went back (recreated): a new run from there.
      {"stream recreated",
       {{100, 1000}, {200, 1200}, {100, 100}, {200, 300}, {300, 500, 2, 50.0}},
       std::nullopt},
      // No replicas: nothing to divide by.
      {"no replicas", {{100, 1000, 0}, {200, 1200, 0}, {300, 1400, 0}}, std::nullopt},
  };
  for (const Case& c : cases) {
    ConsumerThroughput throughput{Tuning{}};
    for (size_t i = 0; i < c.reads.size(); ++i) {
      const Read& r = c.reads[i];
      const TimePoint at = t0 + std::chrono::seconds(i);
      ConsumerSnapshot read{ConsumerCounts{r.pending, r.ackPending, 0}, r.sequence, at,
                            std::nullopt, std::nullopt};
      const auto rate = throughput.observe(read, at, r.replicas, c.lastScaleUpAt);
      ASSERT_EQ(rate.has_value(), r.expect.has_value()) << c.name << ", read " << i;
      if (rate) {
        EXPECT_DOUBLE_EQ(*rate, *r.expect) << c.name << ", read " << i;
      }
    }
  }
}

TEST(ConsumerThroughput, ARunRestartsAfterMaxThroughputSpanSoItFollowsChange) {
  // 50/s per replica for maxThroughputSpan (4 s here), then 25/s: the second run measures 25/s
  // alone instead of averaging it into the first.
  Tuning t;
  t.maxThroughputSpan = 4s;
  ConsumerThroughput throughput{t};
  uint64_t sequence = 1000;
  std::optional<double> last;
  for (int i = 0; i <= 8; ++i) {
    const TimePoint at = t0 + std::chrono::seconds(i);
    ConsumerSnapshot read{ConsumerCounts{100, 0, 0}, sequence, at, std::nullopt, std::nullopt};
    if (auto rate = throughput.observe(read, at, 2, std::nullopt)) last = rate;
    if (i == 4) {
      ASSERT_TRUE(last);
      EXPECT_DOUBLE_EQ(*last, 50);
    }
    sequence += i < 4 ? 100 : 50;  // delivered per second by 2 replicas (pending stays)
  }
  ASSERT_TRUE(last);
  EXPECT_DOUBLE_EQ(*last, 25);
}

TEST(ConsumerThroughput, AReadNotNewerThanThePreviousIsIgnored) {
  ConsumerThroughput throughput{Tuning{}};
  const auto feed = [&](int second, uint64_t sequence) {
    const TimePoint at = t0 + std::chrono::seconds(second);
    return throughput.observe(
        ConsumerSnapshot{ConsumerCounts{100, 0, 0}, sequence, at, std::nullopt, std::nullopt}, at,
        2, std::nullopt);
  };
  EXPECT_FALSE(feed(0, 1000));
  EXPECT_FALSE(feed(1, 1100));
  EXPECT_FALSE(feed(1, 9000));  // the same instant again: ignored, not a burst of deliveries
  const auto rate = feed(2, 1200);
  ASSERT_TRUE(rate);
  EXPECT_DOUBLE_EQ(*rate, 50);
}

}  // namespace
}  // namespace osmosis::autoscaler
