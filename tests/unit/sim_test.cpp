// The scaling simulator's own parts (hack/sim): trace files, the fluid queue's waits, and the
// KEDA + HPA model's documented defaults, how the engine is started, the what-if settings, so its
// comparisons rest on checked arithmetic.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hack/sim/metrics.hpp"
#include "hack/sim/scalers.hpp"
#include "hack/sim/settings.hpp"
#include "hack/sim/trace.hpp"
#include "hack/sim/world.hpp"

namespace osmosis::sim {
namespace {

std::string writeFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(SimTrace, RowsHoldUntilTheNextAndModelLinesApply) {
  Model m;
  auto t = readTrace(writeFile("t.csv",
                               "# a comment\n"
                               "# model: rate=20 startup=2 handler=pareto shape=2\n"
                               "seconds,arrivals_per_second\n"
                               "0,5\n"
                               "3,0\n"
                               "4,7.5\n"),
                     m);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->name, "t");
  EXPECT_EQ(t->rates, (std::vector<double>{5, 5, 5, 0, 7.5}));
  EXPECT_DOUBLE_EQ(t->rateAt(2.9), 5);
  EXPECT_DOUBLE_EQ(t->rateAt(5), 0);  // after the end
  EXPECT_DOUBLE_EQ(m.perPodRate, 20);
  EXPECT_DOUBLE_EQ(m.startupSeconds, 2);
  EXPECT_EQ(m.handler, HandlerTimes::kPareto);
}

TEST(SimTrace, BadInputIsRefusedWithWhere) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const auto& c : std::vector<Case>{
           {"0,5\n0,6\n", ":2: times must rise"},
           {"0,5\n1,x\n", ":2: expected seconds,arrivals_per_second"},
           {"0,-1\n", "negative"},
           {"# model: speed=3\n0,1\n", "unknown model setting speed"},
           {"# model: rate=0\n0,1\n", "rate=0: must be > 0"},
           {"# model: handler=pareto shape=1\n0,1\n", "alpha) > 1"},
           {"seconds,arrivals\n", "no rows"},
       }) {
    Model m;
    auto t = readTrace(writeFile("bad.csv", c.text), m);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_NE(t.error().message.find(c.expect), std::string::npos) << t.error().message;
  }
  Model m;
  EXPECT_FALSE(readTrace("/nonexistent/trace.csv", m).ok());
}

// 100/s for 10 s into one pod that takes 50/s: the message arriving at t leaves at 2t, so
// waits are uniform on [0, 10] s (p50 5 s, p99 9.9 s), and the pod is busy 20 s of 30.
TEST(SimMetrics, FluidFifoWaitsAreExact) {
  Trace trace;
  trace.name = "half";
  trace.rates.assign(30, 0);
  for (int s = 0; s < 10; ++s)
    trace.rates[static_cast<size_t>(s)] = 100;
  Model model;
  model.perPodRate = 50;
  World world(trace, model, 1);
  std::vector<Sample> samples;
  for (int i = 0; i < 300; ++i) {
    world.step();
    samples.push_back({world.now(), world.arrived(), world.departed(), world.replicas(),
                       world.readyPods(), world.backlog()});
  }
  const Summary s = summarize("one pod", samples, trace, model, world.changes());
  EXPECT_NEAR(s.p50, 5, 0.1);
  EXPECT_NEAR(s.p99, 9.9, 0.1);
  EXPECT_NEAR(s.replicaSeconds, 30, 1e-6);
  EXPECT_NEAR(s.efficiency, 1000.0 / 50 / 30, 1e-6);
  EXPECT_DOUBLE_EQ(s.unserved, 0);
  EXPECT_EQ(s.burstNeeded, 2);  // 100/s at 50/s per pod
}

TEST(SimWorld, PodsWorkOnlyOnceReadyAndNotReadyOnesGoFirst) {
  Trace trace;
  trace.rates.assign(20, 100);
  Model model;
  model.startupSeconds = 2;
  World world(trace, model, 0);
  world.setReplicas(2);
  for (int i = 0; i < 15; ++i)
    world.step();  // 1.5 s: not ready yet
  EXPECT_EQ(world.readyPods(), 0);
  EXPECT_DOUBLE_EQ(world.departed(), 0);
  for (int i = 0; i < 10; ++i)
    world.step();
  EXPECT_EQ(world.readyPods(), 2);
  EXPECT_GT(world.departed(), 0);
  world.setReplicas(3);  // one starting
  world.setReplicas(2);  // the starting one goes, not a working one
  EXPECT_EQ(world.readyPods(), 2);
  EXPECT_EQ(world.changes(), 3);
}

TEST(SimKeda, ActivatesOnThePollAndScalesByAtMostDoublePlusFour) {
  // 1000/s from t=0 into 50/s pods: KEDA sees lag at its first poll (t=0 has none yet, t=30
  // has), goes 0 -> 1, then the HPA every 15 s by at most max(x2, +4).
  Trace trace;
  trace.rates.assign(120, 1000);
  Model model;
  model.maxReplicas = 100;
  auto keda = makeKedaHpa(model.maxReplicas);
  World world(trace, model, 0);
  std::vector<std::pair<int, int>> changes;  // (second, replicas)
  for (int s = 0; s < 120; ++s) {
    const int before = world.replicas();
    world.setReplicas(keda->decide(world));
    if (world.replicas() != before) changes.emplace_back(s, world.replicas());
    for (int k = 0; k < 10; ++k)
      world.step();
  }
  EXPECT_EQ(changes, (std::vector<std::pair<int, int>>{
                         {30, 1}, {35, 5}, {50, 10}, {65, 20}, {80, 40}, {95, 80}, {110, 100}}));
}

TEST(SimOsmosis, ARememberedRateStartsInDrainModeAndNoneInLagMode) {
  // 200/s into 50/s pods from nothing: knowing nothing, the first decision is lag mode's
  // (backlog / 100 per replica); with the rate an earlier run measured (--restarted), it is
  // drain mode's, from that rate.
  Trace trace;
  trace.rates.assign(5, 200);
  Model model;
  const auto firstReason = [&](std::optional<RememberedRate> remembered) {
    auto scaler = makeOsmosis(OsmosisOptions{}, model.maxReplicas, remembered);
    EXPECT_TRUE(scaler) << scaler.error().message;
    World world(trace, model, 0);
    for (int k = 0; k < 10; ++k)
      world.step();  // 200 messages waiting
    world.setReplicas((*scaler)->decide(world));
    EXPECT_GT(world.replicas(), 0);
    return (*scaler)->lastReason();
  };
  EXPECT_NE(firstReason(std::nullopt).find("x 100/replica"), std::string::npos);
  const std::string known = firstReason(RememberedRate{50, std::chrono::minutes(10)});
  EXPECT_NE(known.find("x 50.0/s per pod"), std::string::npos) << known;
}

TEST(SimClairvoyant, HasThePodsReadyWhenArrivalsComeAndNoneAfter) {
  // 100/s for seconds 20-39 into 50/s pods that take 2 s to start, headroom 1.2: 2 pods for
  // seconds 20-23 and 37-39 (their own arrivals; the 10 s mean around them is at most 90/s), 3
  // for 24-36 (1.2 x the mean, 108-120/s), each asked 2 s ahead, so nothing waits; kept until
  // no second of the next start-up needs them, none once the arrivals are over.
  Trace trace;
  trace.rates.assign(60, 0);
  std::fill(trace.rates.begin() + 20, trace.rates.begin() + 40, 100);
  Model model;
  model.startupSeconds = 2;
  auto clairvoyant = makeClairvoyant(1.2);
  World world(trace, model, 0);
  std::vector<std::pair<int, int>> changes;  // (second, replicas)
  double largestBacklog = 0;
  for (int s = 0; s < 60; ++s) {
    const int before = world.replicas();
    world.setReplicas(clairvoyant->decide(world));
    if (world.replicas() != before) changes.emplace_back(s, world.replicas());
    for (int k = 0; k < 10; ++k) {
      world.step();
      largestBacklog = std::max(largestBacklog, world.backlog());
    }
  }
  EXPECT_EQ(changes, (std::vector<std::pair<int, int>>{{18, 2}, {22, 3}, {37, 2}, {40, 0}}));
  EXPECT_LT(largestBacklog, 10.1);  // what arrives within one 0.1 s step, taken the next
  EXPECT_DOUBLE_EQ(world.departed(), world.arrived());
}

TEST(SimSettings, AVariantChangesItsKeysOverTheBaseAndNothingElse) {
  autoscaler::Policy base;
  base.targetDrainSeconds = 30;  // as --policy would have set it
  autoscaler::Tuning baseTuning;
  baseTuning.arrivalRise = std::chrono::seconds(3);  // as --tune would have
  auto v = parseVariant("w30-i15:stabilizationSeconds=30,idleWindowRelease=15,headroom=1.1", base,
                        baseTuning);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->name, "w30-i15");
  EXPECT_EQ(v->policy.stabilizationSeconds, 30);
  EXPECT_DOUBLE_EQ(v->policy.headroom, 1.1);
  EXPECT_EQ(v->tuning.idleWindowRelease, std::chrono::seconds(15));
  EXPECT_EQ(v->policy.targetDrainSeconds, 30);
  EXPECT_EQ(v->tuning.arrivalRise, std::chrono::seconds(3));
  EXPECT_EQ(v->policy.maxStepPercent, autoscaler::Policy{}.maxStepPercent);
  EXPECT_EQ(v->tuning.startupGrace, autoscaler::Tuning{}.startupGrace);
  autoscaler::Policy p;
  EXPECT_TRUE(applyPolicy(p, "headroom", "1.1").ok());
  EXPECT_FALSE(applyPolicy(p, "idleWindowRelease", "15").ok());
}

TEST(SimSettings, BadVariantsAndSettingsAreRefusedSayingWhy) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const auto& c : std::vector<Case>{
           {"w30", "expected NAME:key=value"},
           {":headroom=1.1", "the name must be"},
           {"W30:headroom=1.1", "the name must be"},
           {"a-name-longer-than-24-chars:headroom=1.1", "the name must be"},
           {"a:", "no setting after the name"},
           {"a:headroom", "expected key=value, got \"headroom\""},
           {"a:headroom=1.1,", "expected key=value, got \"\""},
           {"a:window=30", "unknown setting window: policy (minReplicas"},
           {"a:headroom=x", "headroom=x: not a number"},
           {"a:stabilizationSeconds=2.5", "not a whole number"},
           {"a:headroom=0.5", "headroom"},
           {"a:scaleDownTolerance=-1", "scaleDownTolerance"},
       }) {
    auto v = parseVariant(c.text, {}, {});
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_EQ(v.error().code, Error::Code::kInvalidArgument) << c.text;
    EXPECT_NE(v.error().message.find(c.expect), std::string::npos)
        << c.text << ": " << v.error().message;
  }
  autoscaler::Policy p;
  const auto unknownPolicy = applyPolicy(p, "idleWindowRelease", "15");
  ASSERT_FALSE(unknownPolicy.ok());
  EXPECT_NE(unknownPolicy.error().message.find("unknown policy idleWindowRelease (minReplicas"),
            std::string::npos);
  autoscaler::Tuning t;
  const auto unknownTuning = applyTuning(t, "headroom", "1.1");
  ASSERT_FALSE(unknownTuning.ok());
  EXPECT_NE(unknownTuning.error().message.find("unknown tuning headroom (arrivalRise"),
            std::string::npos);
}

}  // namespace
}  // namespace osmosis::sim
