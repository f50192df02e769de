// The autoscaler's decision engine: every rule, its boundaries, clock edge cases, noisy and
// contradictory reports, and a seeded property test over long random input sequences.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operator/autoscaler/backlog.hpp"
#include "operator/autoscaler/decision.hpp"
#include "operator/autoscaler/engine.hpp"
#include "operator/autoscaler/policy.hpp"
#include "operator/autoscaler/rates.hpp"
#include "operator/autoscaler/signals.hpp"
#include "operator/autoscaler/window.hpp"

namespace osmosis::autoscaler {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

// Far from the clock's epoch, so "t0 - 10s" is an ordinary time.
const TimePoint t0 = TimePoint{} + 100000s;

TimePoint at(double secondsAfterT0) {
  return t0 + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(secondsAfterT0));
}

Engine makeEngine(const Policy& policy = {}, const Tuning& tuning = {}) {
  auto engine = Engine::create(policy, tuning);
  EXPECT_TRUE(engine.ok()) << engine.error().message;
  return std::move(engine).value();
}

PodReport report(const std::string& pod, TimePoint receivedAt, uint64_t pending,
                 int64_t ackPending = 0, int64_t inFlight = 0) {
  PodReport r;
  r.pod = pod;
  r.receivedAt = receivedAt;
  r.consumer = ConsumerCounts{pending, ackPending, 0};
  r.inFlight = inFlight;
  return r;
}

// A report from a pod at capacity: work waiting, messages in flight, busy all interval.
PodReport busyReport(const std::string& pod, TimePoint receivedAt, uint64_t processed,
                     uint64_t pending = 1000, double rate = 0) {
  PodReport r = report(pod, receivedAt, pending, 8, 8);
  r.processed = processed;
  r.busyFraction = 1.0;
  r.rate = rate;
  return r;
}

ConsumerSnapshot snapshot(TimePoint readAt, uint64_t pending, int64_t ackPending = 0,
                          uint64_t streamLastSequence = 0) {
  return ConsumerSnapshot{ConsumerCounts{pending, ackPending, 0}, streamLastSequence, readAt,
                          std::nullopt, std::nullopt};
}

Inputs fromReports(int current, std::vector<PodReport> reports) {
  Inputs in;
  in.currentReplicas = current;
  in.reports = std::move(reports);
  return in;
}

Inputs fromConsumer(int current, const ConsumerSnapshot& consumer) {
  Inputs in;
  in.currentReplicas = current;
  in.consumer = consumer;
  return in;
}

// A closed loop: evaluates every `every` and applies each decision at once (a faithful
// actuator), recording the changes.
struct Change {
  double at;  // seconds after t0
  int from;
  int to;
  DecisionKind kind;
  bool operator==(const Change&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Change& c) {
  return os << "{" << c.at << "s " << c.from << "->" << c.to << " " << kindName(c.kind) << "}";
}

struct Loop {
  Loop(Engine e, int startReplicas) : engine(std::move(e)), replicas(startReplicas) {}

  Engine engine;
  int replicas = 0;
  double now = 0;  // seconds after t0
  std::vector<Change> changes;
  Decision last;

  // Evaluates at now, now + every, ... up to and including `until`.
  void run(double until, const std::function<Inputs(TimePoint, int)>& inputs, double every = 1) {
    for (; now <= until + 1e-9; now += every) {
      last = engine.evaluate(inputs(at(now), replicas), at(now));
      if (last.desiredReplicas != replicas) {
        changes.push_back({now, replicas, last.desiredReplicas, last.kind});
        replicas = last.desiredReplicas;
      }
    }
  }
};

// One live pod (while there are replicas) reporting this backlog as pending.
std::function<Inputs(TimePoint, int)> pendingBacklog(uint64_t pending) {
  return [pending](TimePoint now, int current) {
    Inputs in;
    in.currentReplicas = current;
    if (current > 0)
      in.reports.push_back(report("pod-a", now, pending));
    else
      in.consumer = snapshot(now, pending);
    return in;
  };
}

// --- Policy ----------------------------------------------------------------------------------

TEST(EnginePolicy, DefaultsMirrorTheChannelSpec) {
  const Policy p;
  EXPECT_EQ(p.minReplicas, 0);
  EXPECT_EQ(p.maxReplicas, 10);
  EXPECT_EQ(p.targetBacklogPerReplica, 100);
  EXPECT_EQ(p.targetDrainSeconds, 10);
  EXPECT_EQ(p.activationBacklog, 1);
  EXPECT_EQ(p.stabilizationSeconds, 60);
  EXPECT_EQ(p.maxStepPercent, 50);
  EXPECT_EQ(p.scaleToZeroAfterSeconds, 120);
  EXPECT_EQ(p.scaleUpMaxStep, 0);
  EXPECT_DOUBLE_EQ(p.headroom, 1.2);
  EXPECT_EQ(p.reportStaleness, 5s);
  EXPECT_TRUE(validate(p).ok());
  EXPECT_TRUE(validate(Tuning{}).ok());
}

TEST(EnginePolicy, RejectsOutOfBoundsFields) {
  struct Case {
    const char* field;
    std::function<void(Policy&)> spoil;
  };
  const std::vector<Case> cases = {
      {"minReplicas", [](Policy& p) { p.minReplicas = -1; }},
      {"maxReplicas", [](Policy& p) { p.maxReplicas = 0; }},
      {"minReplicas", [](Policy& p) { p.minReplicas = 11; }},
      {"targetBacklogPerReplica", [](Policy& p) { p.targetBacklogPerReplica = 0; }},
      {"targetDrainSeconds", [](Policy& p) { p.targetDrainSeconds = 0; }},
      {"activationBacklog", [](Policy& p) { p.activationBacklog = 0; }},
      {"stabilizationSeconds", [](Policy& p) { p.stabilizationSeconds = -1; }},
      {"maxStepPercent", [](Policy& p) { p.maxStepPercent = 0; }},
      {"maxStepPercent", [](Policy& p) { p.maxStepPercent = 101; }},
      {"scaleToZeroAfterSeconds", [](Policy& p) { p.scaleToZeroAfterSeconds = -1; }},
      {"scaleUpMaxStep", [](Policy& p) { p.scaleUpMaxStep = -1; }},
      {"headroom", [](Policy& p) { p.headroom = 0.9; }},
      {"headroom", [](Policy& p) { p.headroom = std::nan(""); }},
      {"reportStaleness", [](Policy& p) { p.reportStaleness = 0ms; }},
      {"scaleDownStepSeconds", [](Policy& p) { p.scaleDownStepSeconds = -1; }},
  };
  for (const auto& c : cases) {
    Policy p;
    c.spoil(p);
    auto status = validate(p);
    ASSERT_FALSE(status.ok()) << c.field;
    EXPECT_EQ(status.error().code, Error::Code::kInvalidArgument);
    EXPECT_THAT(status.error().message, HasSubstr(c.field));
    EXPECT_FALSE(Engine::create(p).ok()) << c.field;
  }
  Tuning t;
  t.busyFraction = 0;
  EXPECT_FALSE(Engine::create(Policy{}, t).ok());
  for (const double trust : {0.0, 1.5, std::nan("")}) {
    Tuning stale;
    stale.staleThroughputTrust = trust;
    EXPECT_FALSE(validate(stale).ok()) << trust;
  }
  for (const double step : {-0.5, 11.0, std::nan("")}) {
    Tuning lag;
    lag.lagStartupStep = step;
    const auto status = validate(lag);
    ASSERT_FALSE(status.ok()) << step;
    EXPECT_THAT(status.error().message, HasSubstr("lagStartupStep"));
  }
  Tuning release;
  release.idleWindowRelease = -1s;
  const auto status = validate(release);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message, HasSubstr("idleWindowRelease"));
}

TEST(EnginePolicy, SetPolicyRejectsInvalidAndKeepsTheOld) {
  Engine e = makeEngine();
  Policy bad;
  bad.maxReplicas = 0;
  EXPECT_FALSE(e.setPolicy(bad).ok());
  EXPECT_EQ(e.policy().maxReplicas, 10);
  Policy smaller;
  smaller.maxReplicas = 3;
  ASSERT_TRUE(e.setPolicy(smaller).ok());
  // Above the new maximum: down to it at once (bounds are configuration, not a recommendation).
  auto d = e.evaluate(fromReports(8, {report("a", t0, 5000)}), t0);
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.kind, DecisionKind::kScaledDown);
  EXPECT_THAT(d.reason, HasSubstr("capped at maxReplicas 3"));
}

// --- Kinds -----------------------------------------------------------------------------------

TEST(EngineKind, ClassifiesRelativeToCurrent) {
  struct Case {
    int current, desired;
    DecisionKind kind;
    const char* name;
  };
  for (const auto& c : std::vector<Case>{{0, 0, DecisionKind::kNone, "None"},
                                         {3, 3, DecisionKind::kNone, "None"},
                                         {0, 1, DecisionKind::kActivated, "Activated"},
                                         {0, 6, DecisionKind::kActivated, "Activated"},
                                         {2, 6, DecisionKind::kScaledUp, "ScaledUp"},
                                         {6, 3, DecisionKind::kScaledDown, "ScaledDown"},
                                         {1, 0, DecisionKind::kScaledToZero, "ScaledToZero"},
                                         {5, 0, DecisionKind::kScaledToZero, "ScaledToZero"}}) {
    EXPECT_EQ(classify(c.current, c.desired), c.kind) << c.current << "->" << c.desired;
    EXPECT_STREQ(kindName(c.kind), c.name);
  }
  EXPECT_STREQ(modeName(Mode::kLag), "lag");
  EXPECT_STREQ(modeName(Mode::kDrain), "drain");
}

// --- Backlog from signals --------------------------------------------------------------------

TEST(EngineBacklog, FreshnessBoundaries) {
  const auto limit = 5000ms;
  EXPECT_EQ(freshness(t0, t0, limit), Freshness::kFresh);
  EXPECT_EQ(freshness(t0 - 5s, t0, limit), Freshness::kFresh);  // exactly the limit: fresh
  EXPECT_EQ(freshness(t0 - 5s - 1ns, t0, limit), Freshness::kStale);
  EXPECT_EQ(freshness(t0 + 5s, t0, limit), Freshness::kFresh);  // ahead by the limit: fresh
  EXPECT_EQ(freshness(t0 + 5s + 1ns, t0, limit), Freshness::kFuture);
}

TEST(EngineBacklog, LiveReportsOnePerPodNewestWins) {
  std::vector<PodReport> reports = {report("a", t0 - 2s, 10, 0, 1), report("b", t0 - 9s, 99),
                                    report("a", t0 - 1s, 20, 0, 2), report("c", t0 + 60s, 7),
                                    report("a", t0 - 1s, 30, 0, 3)};
  auto live = selectLive(reports, t0, 5s);
  ASSERT_EQ(live.live.size(), 1u);
  EXPECT_EQ(live.live[0]->consumer->pending, 30u);  // tie on time: the later one in the list
  EXPECT_EQ(live.stale, 1);
  EXPECT_EQ(live.future, 1);
}

TEST(EngineBacklog, ContradictoryReportsFreshestWinsTiesTakeTheLarger) {
  std::vector<PodReport> reports = {report("a", t0 - 1s, 900, 10, 4), report("b", t0, 100, 5, 3),
                                    report("c", t0 - 3s, 5000, 0, 0)};
  auto b = estimateBacklog(selectLive(reports, t0, 5s), std::nullopt, t0, 5s, 0);
  EXPECT_EQ(b.source, BacklogSource::kReports);
  EXPECT_EQ(b.figuresFrom, "b");
  EXPECT_EQ(b.pending, 100u);
  EXPECT_EQ(b.ackPending, 5);
  EXPECT_EQ(b.heldByLivePods, 7);
  EXPECT_EQ(b.inFlight, 5);
  EXPECT_EQ(b.total, 105u);

  reports = {report("a", t0, 100, 5, 0), report("b", t0, 300, 1, 0), report("c", t0, 300, 2, 0)};
  b = estimateBacklog(selectLive(reports, t0, 5s), std::nullopt, t0, 5s, 0);
  EXPECT_EQ(b.figuresFrom, "c");  // same time: larger pending, then larger ack-pending
  EXPECT_EQ(b.pending, 300u);
}

TEST(EngineBacklog, AckPendingCountsOnlyWhatLivePodsHold) {
  // 60 ack-pending, live pods hold 45: the other 15 (a dead pod's, naked, or #6093's) are not
  // counted.
  std::vector<PodReport> reports = {report("a", t0, 500, 60, 40), report("b", t0 - 1s, 480, 58, 5)};
  auto b = estimateBacklog(selectLive(reports, t0, 5s), std::nullopt, t0, 5s, 0);
  EXPECT_EQ(b.inFlight, 45);
  EXPECT_EQ(b.uncountedAckPending, 15);
  EXPECT_EQ(b.total, 545u);
  EXPECT_EQ(describe(b),
            "backlog 545 (pending 500, in flight 45, 15 ack-pending held by no live pod ignored)");
  // Pods may hold more than the (earlier) read says: never more than ack-pending is counted.
  reports = {report("a", t0, 0, 3, 8)};
  b = estimateBacklog(selectLive(reports, t0, 5s), std::nullopt, t0, 5s, 0);
  EXPECT_EQ(b.inFlight, 3);
  EXPECT_EQ(describe(b), "backlog 3 (pending 0, in flight 3)");
}

TEST(EngineBacklog, ConsumerReadWhenNoPodReportsFigures) {
  const auto consumer = snapshot(t0 - 1s, 70, 9);
  // No reports at all: the operator's read, all ack-pending counted (no baseline).
  auto b = estimateBacklog(selectLive({}, t0, 5s), consumer, t0, 5s, 0);
  EXPECT_EQ(b.source, BacklogSource::kConsumerInfo);
  EXPECT_EQ(b.total, 79u);
  // Minus the ack-pending last seen unheld while pods were live.
  b = estimateBacklog(selectLive({}, t0, 5s), consumer, t0, 5s, 4);
  EXPECT_EQ(b.inFlight, 5);
  EXPECT_EQ(b.uncountedAckPending, 4);
  b = estimateBacklog(selectLive({}, t0, 5s), consumer, t0, 5s, 100);
  EXPECT_EQ(b.inFlight, 0);
  EXPECT_EQ(b.total, 70u);
  // Stale reports do not count as live; a live pod without figures still holds its messages.
  std::vector<PodReport> reports = {report("old", t0 - 6s, 1)};
  PodReport noFigures = report("a", t0, 0, 0, 2);
  noFigures.consumer.reset();
  reports.push_back(noFigures);
  b = estimateBacklog(selectLive(reports, t0, 5s), consumer, t0, 5s, 0);
  EXPECT_EQ(b.source, BacklogSource::kConsumerInfo);
  EXPECT_EQ(b.livePods, 1);
  EXPECT_EQ(b.staleReports, 1);
  EXPECT_EQ(b.inFlight, 2);
  EXPECT_EQ(b.total, 72u);
  // Fresh pod figures are used, but a fresh consumer read is a floor: reports may add detail,
  // never hide work (issue 16, item 12).
  reports = {report("a", t0 - 2s, 10)};
  b = estimateBacklog(selectLive(reports, t0, 5s), snapshot(t0, 999), t0, 5s, 0);
  EXPECT_EQ(b.source, BacklogSource::kReports);
  EXPECT_EQ(b.total, 999u);
  b = estimateBacklog(selectLive(reports, t0, 5s), snapshot(t0, 3), t0, 5s, 0);
  EXPECT_EQ(b.total, 10u) << "reports may show more than an older read";
  // A stale read and no live pod: nothing to go on.
  b = estimateBacklog(selectLive({}, t0, 5s), snapshot(t0 - 6s, 999), t0, 5s, 0);
  EXPECT_EQ(b.source, BacklogSource::kNone);
}

// Hostile input (issue 16, item 12): a report cannot invent work (pending 1e18 scaled to the
// maximum) nor hide it (a fake "0" held replicas at 1 while 3,000 messages waited).
TEST(EngineBacklog, ReportsCannotInventOrHideWork) {
  ConsumerSnapshot own = snapshot(t0, 3000, 0, 5000);
  own.streamMessages = 3000;
  auto liar = report("fake", t0, 0);
  auto b = estimateBacklog(selectLive({liar}, t0, 5s), own, t0, 5s, 0);
  EXPECT_EQ(b.total, 3000u) << "the operator's own read is a floor";
  liar.consumer->pending = uint64_t{1} << 53;
  liar.consumer->ackPending = int64_t{1} << 53;
  liar.inFlight = int64_t{1} << 53;
  b = estimateBacklog(selectLive({liar}, t0, 5s), own, t0, 5s, 0);
  EXPECT_EQ(b.pending, 3000u) << "no more than the stream held";
  EXPECT_LE(b.total, 6000u);
  EXPECT_TRUE(b.boundedByStream);
  EXPECT_NE(describe(b).find("above the stream's size ignored"), std::string::npos) << describe(b);
}

TEST(EngineBacklog, NegativeFiguresCountAsZero) {
  std::vector<PodReport> reports = {report("a", t0, 5, -3, -7)};
  auto b = estimateBacklog(selectLive(reports, t0, 5s), std::nullopt, t0, 5s, -2);
  EXPECT_EQ(b.ackPending, 0);
  EXPECT_EQ(b.heldByLivePods, 0);
  EXPECT_EQ(b.total, 5u);
}

// --- Lag mode --------------------------------------------------------------------------------

TEST(EngineLag, DesiredIsBacklogOverTargetPerReplica) {
  struct Case {
    uint64_t pending;
    int current;
    int desired;
  };
  // Scale-up is immediate; scale-down needs the window, so only up or equal here.
  for (const auto& c : std::vector<Case>{{1, 1, 1},
                                         {100, 1, 1},
                                         {101, 1, 2},
                                         {200, 1, 2},
                                         {201, 1, 3},
                                         {560, 2, 6},
                                         {999, 3, 10},
                                         {1000, 3, 10},
                                         {1001, 3, 10},  // capped at maxReplicas
                                         {UINT64_MAX, 1, 10},
                                         {0, 1, 1}}) {
    Engine e = makeEngine();
    auto d = e.evaluate(fromReports(c.current, {report("a", t0, c.pending)}), t0);
    EXPECT_EQ(d.desiredReplicas, c.desired) << c.pending;
    EXPECT_EQ(d.mode, Mode::kLag);
    EXPECT_TRUE(d.hasSignal);
  }
}

TEST(EngineLag, ReasonNamesTheNumbers) {
  Engine e = makeEngine();
  auto d = e.evaluate(fromReports(2, {report("a", t0, 500, 60, 60)}), t0);
  EXPECT_EQ(d.desiredReplicas, 6);
  EXPECT_EQ(d.kind, DecisionKind::kScaledUp);
  EXPECT_EQ(d.reason, "backlog 560 (pending 500, in flight 60) > 2 x 100/replica");
  EXPECT_EQ(d.backlog.total, 560u);
  EXPECT_EQ(d.backlog.pending, 500u);
  EXPECT_EQ(d.backlog.inFlight, 60);

  d = e.evaluate(fromReports(6, {report("a", t0 + 1s, 5000)}), t0 + 1s);
  EXPECT_EQ(d.desiredReplicas, 10);
  EXPECT_EQ(d.reason,
            "backlog 5000 (pending 5000, in flight 0) > 6 x 100/replica; capped at maxReplicas 10");
}

TEST(EngineLag, MinReplicasIsAFloor) {
  Policy p;
  p.minReplicas = 3;
  Engine e = makeEngine(p);
  auto d = e.evaluate(fromReports(1, {report("a", t0, 0)}), t0);
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.kind, DecisionKind::kScaledUp);
  EXPECT_THAT(d.reason, HasSubstr("raised to minReplicas 3"));
}

TEST(EngineLag, ScaleUpStepLimitAppliesPerObservedChange) {
  Policy p;
  p.maxReplicas = 50;
  p.scaleUpMaxStep = 4;
  Tuning t;
  t.lagStartupStep = 0;  // (18 -> 20 would wait for the pods asked for: LagStartupStep below)
  Engine e = makeEngine(p, t);
  // Until the new count is observed, the same step is asked for again (idempotent).
  auto d = e.evaluate(fromReports(1, {report("a", t0, 2000)}), t0);
  EXPECT_EQ(d.desiredReplicas, 5);
  EXPECT_THAT(d.reason, HasSubstr("scale-up limited to +4 per step"));
  d = e.evaluate(fromReports(1, {report("a", t0 + 100ms, 2000)}), t0 + 100ms);
  EXPECT_EQ(d.desiredReplicas, 5);
  d = e.evaluate(fromReports(5, {report("a", t0 + 200ms, 2000)}), t0 + 200ms);
  EXPECT_EQ(d.desiredReplicas, 9);
  d = e.evaluate(fromReports(18, {report("a", t0 + 300ms, 2000)}), t0 + 300ms);
  EXPECT_EQ(d.desiredReplicas, 20);
  EXPECT_THAT(d.reason, Not(HasSubstr("limited")));
}

TEST(EngineLag, WhilePodsStartAScaleUpWaitsForTheRecommendationToDouble) {
  // One pod reports, the others asked for are starting; the backlog grows 400/s, then stays.
  // lagStartupStep 1: ask again only when the recommendation doubled, for up to startupGrace
  // (30 s) after the last scale-up; 0: every second, as KEDA's rule alone would.
  Policy p;
  p.maxReplicas = 100;
  const auto traffic = [](TimePoint now, int current) {
    const double s = std::chrono::duration<double>(now - t0).count();
    return fromReports(current,
                       {report("a", now, static_cast<uint64_t>(200 + 400 * std::min(s, 7.5)))});
  };
  struct Case {
    double step;
    std::vector<Change> changes;
  };
  for (const auto& c : std::vector<Case>{
           {1,
            {{0, 1, 2, DecisionKind::kScaledUp},
             {1, 2, 6, DecisionKind::kScaledUp},
             {3, 6, 14, DecisionKind::kScaledUp},
             {7, 14, 30, DecisionKind::kScaledUp},
             {37, 30, 32, DecisionKind::kScaledUp}}},  // grace over: the recommendation itself
           {0,
            {{0, 1, 2, DecisionKind::kScaledUp},
             {1, 2, 6, DecisionKind::kScaledUp},
             {2, 6, 10, DecisionKind::kScaledUp},
             {3, 10, 14, DecisionKind::kScaledUp},
             {4, 14, 18, DecisionKind::kScaledUp},
             {5, 18, 22, DecisionKind::kScaledUp},
             {6, 22, 26, DecisionKind::kScaledUp},
             {7, 26, 30, DecisionKind::kScaledUp},
             {8, 30, 32, DecisionKind::kScaledUp}}},
       }) {
    Tuning t;
    t.lagStartupStep = c.step;
    Loop loop{makeEngine(p, t), 1};
    loop.run(50, traffic);
    EXPECT_EQ(loop.changes, c.changes) << c.step << " " << loop.last.reason;
  }
  // At maxReplicas' cap the doubling cannot come: the cap is asked for at once.
  Policy capped;
  capped.maxReplicas = 10;
  Engine e = makeEngine(capped);
  EXPECT_EQ(e.evaluate(fromReports(2, {report("a", t0, 500)}), t0).desiredReplicas, 5);
  const Decision d = e.evaluate(fromReports(5, {report("a", t0 + 1s, 900)}), t0 + 1s);
  EXPECT_EQ(d.desiredReplicas, 5) << d.reason;  // 9 < 10: waits
  EXPECT_THAT(d.reason, HasSubstr("scale-up waits for 4 of 5 pods asked for 1s ago, or a "
                                  "recommendation of 10"));
  EXPECT_EQ(e.evaluate(fromReports(5, {report("a", t0 + 2s, 5000)}), t0 + 2s).desiredReplicas, 10);
}

TEST(EngineLag, UnlimitedScaleUpIsOneStep) {
  Policy p;
  p.maxReplicas = 20;
  Engine e = makeEngine(p);
  auto d = e.evaluate(fromReports(1, {report("a", t0, 2000)}), t0);
  EXPECT_EQ(d.desiredReplicas, 20);  // 1 -> 20 in one step (the HPA needs about 45 s)
}

// --- Activation from zero --------------------------------------------------------------------

TEST(EngineActivation, FirstMessageWakesTheTarget) {
  struct Case {
    int64_t activationBacklog;
    uint64_t pending;
    int desired;
  };
  for (const auto& c : std::vector<Case>{
           {1, 0, 0}, {1, 1, 1}, {10, 9, 0}, {10, 10, 1}, {1, 560, 6}, {1, 100000, 10}}) {
    Policy p;
    p.activationBacklog = c.activationBacklog;
    Engine e = makeEngine(p);
    // At zero no pod reports: the operator's own read is the signal, and one read suffices.
    auto d = e.evaluate(fromConsumer(0, snapshot(t0, c.pending)), t0);
    EXPECT_EQ(d.desiredReplicas, c.desired) << c.activationBacklog << "/" << c.pending;
    EXPECT_EQ(d.kind, c.desired > 0 ? DecisionKind::kActivated : DecisionKind::kNone);
    EXPECT_EQ(d.backlog.source, BacklogSource::kConsumerInfo);
  }
}

TEST(EngineActivation, Reasons) {
  Engine e = makeEngine();
  auto d = e.evaluate(fromConsumer(0, snapshot(t0, 0)), t0);
  EXPECT_EQ(d.reason,
            "backlog 0 (pending 0, in flight 0) needs 0 x 100/replica; below activationBacklog 1: "
            "staying at zero");
  d = e.evaluate(fromConsumer(0, snapshot(t0 + 1s, 1)), t0 + 1s);
  EXPECT_EQ(d.reason,
            "activation: backlog 1 >= 1; backlog 1 (pending 1, in flight 0) needs 1 x 100/replica");
}

TEST(EngineActivation, MinReplicasAndStepLimitFromZero) {
  Policy p;
  p.minReplicas = 2;
  Engine e = makeEngine(p);
  auto d = e.evaluate(fromConsumer(0, snapshot(t0, 0)), t0);
  EXPECT_EQ(d.desiredReplicas, 2);
  EXPECT_EQ(d.kind, DecisionKind::kActivated);

  Policy stepped;
  stepped.scaleUpMaxStep = 3;
  Engine f = makeEngine(stepped);
  d = f.evaluate(fromConsumer(0, snapshot(t0, 900)), t0);
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.kind, DecisionKind::kActivated);
}

// --- Scale-down: window, step, period --------------------------------------------------------

TEST(EngineScaleDown, BurstThenDrainedTimeline) {
  Loop loop{makeEngine(), 1};
  loop.run(0, pendingBacklog(560));
  loop.run(200, pendingBacklog(0));
  // Up at once; down after the 60 s window (the burst's 6 counts through t=60), by 50% per
  // 15 s step; to zero 120 s after the backlog was last seen.
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{0, 1, 6, DecisionKind::kScaledUp},
                                                   Change{61, 6, 3, DecisionKind::kScaledDown},
                                                   Change{76, 3, 2, DecisionKind::kScaledDown},
                                                   Change{91, 2, 1, DecisionKind::kScaledDown},
                                                   Change{120, 1, 0, DecisionKind::kScaledToZero}));
}

TEST(EngineScaleDown, ReasonsWhileWaiting) {
  Loop loop{makeEngine(), 1};
  loop.run(0, pendingBacklog(560));
  loop.run(30, pendingBacklog(0));
  EXPECT_EQ(loop.last.desiredReplicas, 6);
  EXPECT_EQ(loop.last.recommendedReplicas, 1);
  EXPECT_EQ(loop.last.reason,
            "backlog 0 (pending 0, in flight 0) needs 0 x 100/replica; scale-down held: largest "
            "recommendation in the last 60s is 6; idle 30s of 120s before scale to zero");
  loop.run(61, pendingBacklog(0));
  EXPECT_THAT(loop.last.reason, HasSubstr("scale-down limited to -3 (50%)"));
  loop.run(70, pendingBacklog(0));
  EXPECT_THAT(loop.last.reason, HasSubstr("next scale-down step in 6s"));
}

TEST(EngineScaleDown, LargestRecommendationInTheWindowWins) {
  Policy p;
  p.maxStepPercent = 100;
  Loop loop{makeEngine(p), 1};
  loop.run(0, pendingBacklog(900));   // 9
  loop.run(30, pendingBacklog(400));  // 4 from t=1 to t=30
  loop.run(100, pendingBacklog(100));
  // At t=61 the 9 has left the window, the 4s (t<=30) have not: 9 -> 4; at t=91 -> 1.
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{0, 1, 9, DecisionKind::kScaledUp},
                                                   Change{61, 9, 4, DecisionKind::kScaledDown},
                                                   Change{91, 4, 1, DecisionKind::kScaledDown}));
}

TEST(EngineScaleDown, StepIsAtLeastOneAndAtMostThePercent) {
  struct Case {
    int current;
    int percent;
    int desired;
  };
  for (const auto& c : std::vector<Case>{
           {10, 50, 5}, {3, 50, 2}, {2, 10, 1}, {10, 1, 9}, {10, 100, 1}, {9, 34, 6}}) {
    Policy p;
    p.maxStepPercent = c.percent;
    p.stabilizationSeconds = 0;
    p.minReplicas = 1;
    Engine e = makeEngine(p);
    auto d = e.evaluate(fromReports(c.current, {report("a", t0, 0)}), t0);
    EXPECT_EQ(d.desiredReplicas, c.desired) << c.current << " at " << c.percent << "%";
  }
}

TEST(EngineScaleDown, PendingStepIsRepeatedUntilObserved) {
  Policy p;
  p.stabilizationSeconds = 0;
  Engine e = makeEngine(p);
  auto d = e.evaluate(fromReports(10, {report("a", t0, 0)}), t0);
  EXPECT_EQ(d.desiredReplicas, 5);
  // The actuator has not applied it yet: the same answer, not a hold and not a second step.
  d = e.evaluate(fromReports(10, {report("a", t0 + 1s, 0)}), t0 + 1s);
  EXPECT_EQ(d.desiredReplicas, 5);
  // Applied: wait out the step period.
  d = e.evaluate(fromReports(5, {report("a", t0 + 2s, 0)}), t0 + 2s);
  EXPECT_EQ(d.desiredReplicas, 5);
  d = e.evaluate(fromReports(5, {report("a", t0 + 15s, 0)}), t0 + 15s);
  EXPECT_EQ(d.desiredReplicas, 3);
}

TEST(EngineScaleDown, ZeroWindowAndZeroPeriodStepEveryEvaluation) {
  Policy p;
  p.stabilizationSeconds = 0;
  p.scaleDownStepSeconds = 0;
  p.minReplicas = 1;
  Loop loop{makeEngine(p), 8};
  loop.run(3, pendingBacklog(0));
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{0, 8, 4, DecisionKind::kScaledDown},
                                                   Change{1, 4, 2, DecisionKind::kScaledDown},
                                                   Change{2, 2, 1, DecisionKind::kScaledDown}));
}

TEST(EngineScaleDown, AFreshEngineWaitsAWholeWindowBeforeScalingDown) {
  // The operator restarted: it has no history, so it must not act on one quiet reading.
  Policy p;
  p.minReplicas = 1;
  Loop loop{makeEngine(p), 5};
  loop.run(59, pendingBacklog(0));
  EXPECT_TRUE(loop.changes.empty());
  EXPECT_THAT(loop.last.reason, HasSubstr("scale-down waits: signal for 59s of the 60s window"));
  loop.run(60, pendingBacklog(0));
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{60, 5, 3, DecisionKind::kScaledDown}));
}

TEST(EngineScaleDown, ASignalGapRestartsTheWindow) {
  Policy p;
  p.minReplicas = 1;
  Loop loop{makeEngine(p), 5};
  loop.run(40, pendingBacklog(0));
  loop.now = 50;  // no evaluation for 10 s: longer than the staleness limit
  loop.run(109, pendingBacklog(0));
  EXPECT_TRUE(loop.changes.empty());
  loop.run(110, pendingBacklog(0));
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{110, 5, 3, DecisionKind::kScaledDown}));
}

TEST(EngineScaleDown, NoSignalHoldsAndRestartsTheWindow) {
  Policy p;
  p.minReplicas = 1;
  Engine e = makeEngine(p);
  for (int s = 0; s <= 50; ++s) {
    auto d = e.evaluate(fromReports(5, {report("a", at(s), 0)}), at(s));
    EXPECT_EQ(d.desiredReplicas, 5);
  }
  // Reports stop (the last one goes stale); no consumer read either.
  Inputs silent = fromReports(5, {report("a", at(50), 0)});
  auto d = e.evaluate(silent, at(56));
  EXPECT_FALSE(d.hasSignal);
  EXPECT_EQ(d.desiredReplicas, 5);
  EXPECT_EQ(d.kind, DecisionKind::kNone);
  EXPECT_EQ(d.reason,
            "no fresh report or consumer read, 1 stale reports ignored: keeping 5 replicas");
  // Signal again at t=57: a full window from there before any scale-down.
  for (int s = 57; s <= 116; ++s) {
    d = e.evaluate(fromReports(5, {report("a", at(s), 0)}), at(s));
    EXPECT_EQ(d.desiredReplicas, 5) << s;
  }
  d = e.evaluate(fromReports(5, {report("a", at(117), 0)}), at(117));
  EXPECT_EQ(d.desiredReplicas, 3);
}

TEST(EngineScaleDown, NoSignalStillAppliesBounds) {
  Policy p;
  p.minReplicas = 2;
  p.maxReplicas = 4;
  Engine e = makeEngine(p);
  EXPECT_EQ(e.evaluate(fromReports(9, {}), t0).desiredReplicas, 4);
  EXPECT_EQ(e.evaluate(fromReports(0, {}), t0).desiredReplicas, 2);
  EXPECT_EQ(e.evaluate(fromReports(3, {}), t0).desiredReplicas, 3);
}

// --- Scale to zero ---------------------------------------------------------------------------

TEST(EngineScaleToZero, AfterTheIdlePeriodOnly) {
  Loop loop{makeEngine(), 1};
  loop.run(0, pendingBacklog(1));
  loop.run(119, pendingBacklog(0));
  EXPECT_EQ(loop.replicas, 1);
  EXPECT_THAT(loop.last.reason, HasSubstr("idle 119s of 120s before scale to zero"));
  EXPECT_EQ(loop.last.idleFor, 119s);
  loop.run(120, pendingBacklog(0));
  EXPECT_EQ(loop.replicas, 0);
  EXPECT_EQ(loop.last.kind, DecisionKind::kScaledToZero);
  // Only the figures that decided (issue 13: no stale arrival estimate beside the verdict).
  EXPECT_EQ(loop.last.reason,
            "idle 120s >= 120s (no backlog, no arrivals, no processing): scale to zero");
}

TEST(EngineScaleToZero, NeverBelowMinReplicas) {
  Policy p;
  p.minReplicas = 1;
  Loop loop{makeEngine(p), 1};
  loop.run(1000, pendingBacklog(0));
  EXPECT_TRUE(loop.changes.empty());
}

TEST(EngineScaleToZero, ManyReplicasGoStraightToZeroWhenIdle) {
  // Idle means no backlog, no arrival and no processing for the whole period: nothing for any
  // pod to do, so no step limit. (The window has long let them go to 1 with defaults; a long
  // window keeps them up until zero is allowed.)
  Policy p;
  p.stabilizationSeconds = 300;
  Loop loop{makeEngine(p), 1};
  loop.run(0, pendingBacklog(700));
  loop.run(400, pendingBacklog(0));
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{0, 1, 7, DecisionKind::kScaledUp},
                                                   Change{301, 7, 0, DecisionKind::kScaledToZero}));
}

TEST(EngineScaleToZero, ScaleToZeroNeverInsideTheWindowAfterAScaleUp) {
  Policy p;
  p.scaleToZeroAfterSeconds = 0;
  Loop loop{makeEngine(p), 1};
  loop.run(0, pendingBacklog(300));
  loop.run(100, pendingBacklog(0));
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{0, 1, 3, DecisionKind::kScaledUp},
                                                   Change{61, 3, 0, DecisionKind::kScaledToZero}));
}

TEST(EngineScaleToZero, ProcessingKeepsThePodsEvenWhenReportsShowNoBacklog) {
  // Light steady traffic: each message is handled between two reports, so every report shows
  // an empty backlog, but the processed counter moves: not idle.
  Loop loop{makeEngine(), 1};
  uint64_t processed = 0;
  loop.run(300, [&](TimePoint now, int current) {
    PodReport r = report("a", now, 0);
    r.processed = (processed += 3);
    return fromReports(current, {r});
  });
  EXPECT_TRUE(loop.changes.empty());
  EXPECT_EQ(loop.last.idleFor, 0s);
}

TEST(EngineScaleToZero, ArrivalsOnTheStreamAreActivity) {
  Loop loop{makeEngine(), 1};
  uint64_t sequence = 0;
  loop.run(300, [&](TimePoint now, int current) {
    Inputs in = fromReports(current, {report("a", now, 0)});
    in.consumer = snapshot(now, 0, 0, sequence += 1);
    return in;
  });
  EXPECT_TRUE(loop.changes.empty());
}

TEST(EngineScaleToZero, StaleAckPendingDoesNotBlockScaleToZeroNorReWake) {
  // nats-server #6093: ack-pending 7 that nobody holds and NATS never clears.
  Loop loop{makeEngine(), 1};
  const auto withStaleAckPending = [](uint64_t pending) {
    return [pending](TimePoint now, int current) {
      Inputs in;
      in.currentReplicas = current;
      if (current > 0) in.reports.push_back(report("pod-a", now, pending, 7, 0));
      in.consumer = snapshot(now, pending, 7, 1000);
      return in;
    };
  };
  loop.run(120, withStaleAckPending(0));
  EXPECT_THAT(loop.changes, ::testing::ElementsAre(Change{120, 1, 0, DecisionKind::kScaledToZero}));
  EXPECT_EQ(loop.last.backlog.uncountedAckPending, 7);
  // At zero only the operator's read remains: the same 7 do not wake the target...
  loop.run(600, withStaleAckPending(0));
  EXPECT_EQ(loop.replicas, 0);
  EXPECT_EQ(loop.last.backlog.total, 0u);
  EXPECT_EQ(loop.last.backlog.source, BacklogSource::kConsumerInfo);
  // ...a new message does.
  loop.run(601, withStaleAckPending(1));
  EXPECT_EQ(loop.replicas, 1);
  EXPECT_EQ(loop.last.kind, DecisionKind::kActivated);
}

TEST(EngineScaleToZero, UnheldAckPendingAtZeroCountsWhenNoPodEverSawIt) {
  // A fresh engine (no pod has reported): ack-pending is work a pod must pick up again.
  Engine e = makeEngine();
  auto d = e.evaluate(fromConsumer(0, snapshot(t0, 0, 3)), t0);
  EXPECT_EQ(d.backlog.total, 3u);
  EXPECT_EQ(d.kind, DecisionKind::kActivated);
}

TEST(EngineScaleToZero, TheStaleBaselineOnlyShrinks) {
  Engine e = makeEngine();
  // Pods live: 7 unheld.
  e.evaluate(fromReports(1, {report("a", t0, 0, 7, 0)}), t0);
  // At zero: NATS now says 3 (some were cleared), then 7 again: the 4 new ones count.
  auto d = e.evaluate(fromConsumer(0, snapshot(t0 + 1s, 0, 3)), t0 + 1s);
  EXPECT_EQ(d.backlog.total, 0u);
  d = e.evaluate(fromConsumer(0, snapshot(t0 + 2s, 0, 7)), t0 + 2s);
  EXPECT_EQ(d.backlog.total, 4u);
  EXPECT_EQ(d.kind, DecisionKind::kActivated);
}

// --- Drain mode ------------------------------------------------------------------------------

TEST(EngineRates, PodThroughputIsMeasuredWhileBusy) {
  Tuning t;
  PodThroughput pods(t);
  EXPECT_FALSE(pods.perPodRate(t0));
  EXPECT_FALSE(pods.observe(busyReport("a", at(0), 0), at(0)));  // starts a run
  EXPECT_TRUE(pods.observe(busyReport("a", at(1), 50), at(1)));  // processed more
  EXPECT_FALSE(pods.perPodRate(at(1)));                          // 1 s is too short
  pods.observe(busyReport("a", at(2), 100), at(2));
  ASSERT_TRUE(pods.perPodRate(at(2)));
  EXPECT_DOUBLE_EQ(*pods.perPodRate(at(2)), 50);
  // The same report again changes nothing.
  EXPECT_FALSE(pods.observe(busyReport("a", at(2), 100), at(2)));
  // Not at capacity (no work waiting): the run ends, the measurement stays.
  pods.observe(busyReport("a", at(3), 120, 0), at(3));
  pods.observe(busyReport("a", at(4), 500), at(4));  // a new run starts here
  pods.observe(busyReport("a", at(5), 540), at(5));
  EXPECT_DOUBLE_EQ(*pods.perPodRate(at(5)), 50);
  pods.observe(busyReport("a", at(6), 580), at(6));
  EXPECT_DOUBLE_EQ(*pods.perPodRate(at(6)), 40);
  // Fully trusted for throughputMaxAge, then less and less (to half at throughputForgetAfter,
  // 24 h), then forgotten; the pod itself is pruned, its measurement is kept.
  EXPECT_DOUBLE_EQ(*pods.perPodRate(at(6) + t.throughputMaxAge), 40);
  EXPECT_FALSE(pods.staleTrust(at(6) + t.throughputMaxAge));
  pods.prune(at(7) + t.throughputMaxAge);
  EXPECT_EQ(pods.podsTracked(), 0u);
  const Duration halfway = t.throughputMaxAge + (t.throughputForgetAfter - t.throughputMaxAge) / 2;
  ASSERT_TRUE(pods.perPodRate(at(6) + halfway));
  EXPECT_NEAR(*pods.perPodRate(at(6) + halfway), 40 * 0.75, 1e-9);
  ASSERT_TRUE(pods.staleTrust(at(6) + halfway));
  EXPECT_NEAR(pods.staleTrust(at(6) + halfway)->share, 0.75, 1e-9);
  EXPECT_EQ(pods.staleTrust(at(6) + halfway)->measuredAt, at(6));
  EXPECT_NEAR(*pods.perPodRate(at(6) + t.throughputForgetAfter), 20, 1e-9);
  EXPECT_FALSE(pods.perPodRate(at(7) + t.throughputForgetAfter));
  // With throughputForgetAfter not after throughputMaxAge: forgotten at throughputMaxAge.
  Tuning strict;
  strict.throughputForgetAfter = strict.throughputMaxAge;
  PodThroughput once(strict);
  for (int s = 0; s <= 2; ++s)
    once.observe(busyReport("a", at(s), 50u * static_cast<uint64_t>(s)), at(s));
  EXPECT_TRUE(once.perPodRate(at(2) + strict.throughputMaxAge));
  EXPECT_FALSE(once.perPodRate(at(3) + strict.throughputMaxAge));
}

TEST(EngineRates, WithoutReportsTheConsumerReadsMeasureThePerPodRate) {
  // No pod reports; 2 replicas, 150/s arriving and 150 always waiting undelivered: the pods
  // take 75/s each. Lag mode holds (ceil(150 / 100) = 2) until a run of reads has lasted
  // minThroughputSpan (2 s); then drain mode: (1.2 x 150 + 150 / 10) / 75 = 2.6 -> 3 (top of
  // the band: ceil(2.6 x 1.1) = 3). With consumerThroughput off it stays in lag mode.
  for (const bool consumer : {true, false}) {
    Tuning t;
    t.consumerThroughput = consumer;
    Engine e = makeEngine({}, t);
    Decision d;
    for (int s = 0; s <= 3; ++s)
      d = e.evaluate(fromConsumer(2, snapshot(at(s), 150, 0, 1000 + 150u * s)), at(s));
    if (!consumer) {
      EXPECT_EQ(d.mode, Mode::kLag);
      EXPECT_EQ(d.desiredReplicas, 2) << d.reason;
      continue;
    }
    EXPECT_EQ(d.mode, Mode::kDrain);
    ASSERT_TRUE(d.perPodRate);
    EXPECT_DOUBLE_EQ(*d.perPodRate, 75);
    EXPECT_EQ(d.desiredReplicas, 3) << d.reason;
    EXPECT_THAT(d.reason, HasSubstr("per-pod rate from the consumer's acks (no pod reports)"));
    // Kept across restarts (status.throughput) like a pod's, from the read that measured it.
    auto learned = e.learnedPerPodRate(at(3));
    ASSERT_TRUE(learned);
    EXPECT_DOUBLE_EQ(learned->perPodRate, 75);
    EXPECT_EQ(learned->measuredAt, at(3));
    // The pods' own measurement wins as soon as one is taken (100/s here), and the note goes.
    for (int s = 4; s <= 6; ++s)
      d = e.evaluate(fromReports(2, {busyReport("a", at(s), 100u * static_cast<uint64_t>(s - 4))}),
                     at(s));
    ASSERT_TRUE(d.perPodRate);
    EXPECT_DOUBLE_EQ(*d.perPodRate, 100);
    EXPECT_THAT(d.reason, Not(HasSubstr("consumer's acks")));
  }
}

TEST(EngineRates, NotBusyStuckOrRestartedPodsGiveNoMeasurement) {
  PodThroughput pods{Tuning{}};
  for (int s = 0; s < 10; ++s) {
    PodReport half = busyReport("half", at(s), 50u * static_cast<uint64_t>(s));
    half.busyFraction = 0.5;
    pods.observe(half, at(s));
    PodReport idle = busyReport("idle", at(s), 50u * static_cast<uint64_t>(s));
    idle.inFlight = 0;
    pods.observe(idle, at(s));
    pods.observe(busyReport("stuck", at(s), 7), at(s));  // work waits, nothing is processed
  }
  EXPECT_FALSE(pods.perPodRate(at(10)));
  // A sidecar restart resets its counter: no negative or huge rate.
  pods.observe(busyReport("r", at(0), 1000), at(0));
  pods.observe(busyReport("r", at(1), 5), at(1));
  pods.observe(busyReport("r", at(2), 25), at(2));
  EXPECT_FALSE(pods.perPodRate(at(2)));
  pods.observe(busyReport("r", at(3), 45), at(3));
  EXPECT_DOUBLE_EQ(*pods.perPodRate(at(3)), 20);
}

TEST(EngineRates, PerPodRateIsTheMedianOverPods) {
  PodThroughput pods{Tuning{}};
  const std::vector<std::pair<std::string, uint64_t>> perSecond = {
      {"a", 40}, {"b", 50}, {"c", 500}};
  for (int s = 0; s <= 2; ++s) {
    for (const auto& [name, rate] : perSecond)
      pods.observe(busyReport(name, at(s), rate * static_cast<uint64_t>(s)), at(s));
  }
  EXPECT_DOUBLE_EQ(*pods.perPodRate(at(2)), 50);
  for (int s = 0; s <= 2; ++s)
    pods.observe(busyReport("d", at(s), 60u * static_cast<uint64_t>(s)), at(s));
  EXPECT_DOUBLE_EQ(*pods.perPodRate(at(2)), 55);  // even count: mean of the middle two
}

TEST(EngineRates, ArrivalRateFromTheStreamSequence) {
  ArrivalRate arrival(10s, 10s, 0.2);
  EXPECT_FALSE(arrival.observe(1000, at(0)));
  EXPECT_FALSE(arrival.rate(at(0), 30s));  // one read is not a rate
  EXPECT_TRUE(arrival.observe(1100, at(1)));
  ASSERT_TRUE(arrival.rate(at(1), 30s));
  // Starts from zero: one second moves it 1 - e^(-1/10) of the way to 100/s.
  EXPECT_NEAR(*arrival.rate(at(1), 30s), 100 * (1 - std::exp(-0.1)), 1e-9);
  // Same timestamp again, or an older read: ignored.
  EXPECT_FALSE(arrival.observe(5000, at(1)));
  EXPECT_FALSE(arrival.observe(5000, at(0.5)));
  uint64_t sequence = 1100;
  for (int s = 2; s <= 200; ++s)
    arrival.observe(sequence += 100, at(s));
  EXPECT_NEAR(*arrival.rate(at(200), 30s), 100, 1e-6);
  // Too old to use.
  EXPECT_TRUE(arrival.rate(at(230), 30s));
  EXPECT_FALSE(arrival.rate(at(231), 30s));
  // Stream recreated (sequence back to the start): no negative rate, measuring restarts.
  EXPECT_FALSE(arrival.observe(3, at(201)));
  EXPECT_NEAR(*arrival.rate(at(201), 30s), 100, 1e-6);
  EXPECT_FALSE(arrival.observe(3, at(202)));
  EXPECT_LT(*arrival.rate(at(202), 30s), 100);
}

// Feeds busy reports from one pod (50 msg/s at capacity) for `seconds`; returns the engine.
Engine engineThatMeasured50PerSecond(const Policy& p = {}, const Tuning& t = {}) {
  Engine e = makeEngine(p, t);
  for (int s = 0; s <= 3; ++s)
    e.evaluate(fromReports(1, {busyReport("a", at(s), 50u * static_cast<uint64_t>(s))}), at(s));
  return e;
}

TEST(EngineDrain, LagUntilThroughputIsKnownThenDrain) {
  Tuning t;
  t.arrivalFromReports = false;  // the pods' rate as the arrival (ArrivalFromTheReports below)
  Engine e = makeEngine({}, t);
  auto d = e.evaluate(fromReports(1, {busyReport("a", at(0), 0)}), at(0));
  EXPECT_EQ(d.mode, Mode::kLag);
  d = e.evaluate(fromReports(1, {busyReport("a", at(1), 50)}), at(1));
  EXPECT_EQ(d.mode, Mode::kLag);
  d = e.evaluate(fromReports(1, {busyReport("a", at(2), 100, 1000, 40)}), at(2));
  EXPECT_EQ(d.mode, Mode::kDrain);
  ASSERT_TRUE(d.perPodRate);
  EXPECT_DOUBLE_EQ(*d.perPodRate, 50);
  // No stream read: arrival is the pods' rate (40/s): (1.2 x 40 + 1008 / 10) / 50 = 2.976 -> 3,
  // and a scale-up goes to the top of the 10% band: ceil(2.976 x 1.1) = 4.
  EXPECT_EQ(d.arrivalSource, ArrivalSource::kReports);
  EXPECT_DOUBLE_EQ(d.arrivalRate, 40);
  EXPECT_EQ(d.recommendedReplicas, 3);
  EXPECT_EQ(d.desiredReplicas, 4);
  EXPECT_EQ(d.reason,
            "arrival 40.0/s (pods' rate) x 1.2 + backlog 1008 (pending 1000, in flight 8) / 10s = "
            "148.8/s > 1 x 50.0/s per pod; up to the 10% tolerance band: 4");
}

TEST(EngineDrain, FormulaWithTheStreamArrivalRate) {
  struct Case {
    uint64_t backlog;
    int desired;  // ceil((1.2 x 100 + backlog / 10) / 50)
  };
  for (const auto& c : std::vector<Case>{{0, 3},
                                         {300, 3},
                                         {301, 4},
                                         {500, 4},
                                         {800, 4},
                                         {801, 5},
                                         {1300, 5},
                                         {1301, 6},
                                         {100000, 10}}) {
    Engine e = engineThatMeasured50PerSecond();
    // Steady 100 msg/s on the stream for 200 s (converged), read by the operator each second;
    // the pod's reports agree (a steady backlog, 100/s processed).
    Inputs in;
    for (int s = 4; s <= 200; ++s) {
      in = fromConsumer(1, snapshot(at(s), c.backlog, 0, 100u * static_cast<uint64_t>(s)));
      PodReport r = report("a", at(s), c.backlog);
      r.processed = 150 + 100u * static_cast<uint64_t>(s - 4);  // after the 150 measured
      in.reports = {r};
      e.evaluate(in, at(s));
    }
    auto d = e.evaluate(in, at(200));
    EXPECT_EQ(d.mode, Mode::kDrain);
    EXPECT_EQ(d.arrivalSource, ArrivalSource::kStream);
    EXPECT_NEAR(d.arrivalRate, 100, 1e-3);
    EXPECT_EQ(d.recommendedReplicas, c.desired) << c.backlog;
    if (c.backlog == 500) {
      EXPECT_THAT(d.reason, HasSubstr("arrival 100.0/s x 1.2 + backlog 500 (pending 500, in "
                                      "flight 0) / 10s = 170.0/s > 1 x 50.0/s per pod"));
    }
  }
}

// Issue 13 item 6: the slowly falling arrival estimate next to an idle time read as a
// contradiction; once nothing arrives, the reason says the estimate is falling and since when.
TEST(EngineDrain, AFallingArrivalEstimateSaysNothingArrivedSince) {
  Engine e = engineThatMeasured50PerSecond();
  Inputs in;
  const auto steady = [&](int s, uint64_t sequence) {
    in = fromConsumer(1, snapshot(at(s), 0, 0, sequence));
    PodReport r = report("a", at(s), 0);
    r.processed = 150 + sequence;
    in.reports = {r};
    return e.evaluate(in, at(s));
  };
  Decision d;
  for (int s = 4; s <= 100; ++s)
    d = steady(s, 100u * static_cast<uint64_t>(s));
  EXPECT_THAT(d.reason, HasSubstr("arrival 100.0/s x 1.2"));
  EXPECT_THAT(d.reason, Not(HasSubstr("falling")));
  for (int s = 101; s <= 110; ++s)
    d = steady(s, 10000);  // the stream stops growing; the pod takes nothing more
  EXPECT_GT(d.arrivalRate, 0);
  EXPECT_THAT(d.reason, ::testing::ContainsRegex(
                            "arrival [0-9.]+/s \\(falling: nothing arrived for 10s\\) x 1.2"));
  EXPECT_THAT(d.reason, HasSubstr("idle 10s of 120s before scale to zero"));
}

TEST(EngineDrain, StreamArrivalTooOldFallsBackToThePods) {
  Engine e = engineThatMeasured50PerSecond();
  Inputs in = fromConsumer(1, snapshot(at(4), 0, 0, 0));
  e.evaluate(in, at(4));
  in.consumer = snapshot(at(5), 0, 0, 100);
  auto d = e.evaluate(in, at(5));
  EXPECT_EQ(d.arrivalSource, ArrivalSource::kStream);
  PodReport r = report("a", at(36), 0);
  r.rate = 12;
  d = e.evaluate(fromReports(1, {r}), at(36));  // the last read is 31 s old
  EXPECT_EQ(d.arrivalSource, ArrivalSource::kReports);
  EXPECT_DOUBLE_EQ(d.arrivalRate, 12);
}

TEST(EngineDrain, SteadyNoisyTrafficDoesNotOscillate) {
  // 100 msg/s, pods handle 50/s: the queue is usually drained, and what is seen is noise
  // (0-40 waiting). Lag mode would see an almost empty queue and shrink to 1 pod, which then
  // falls behind; drain mode, once the arrival rate is measured, holds 3.
  Policy p;
  p.stabilizationSeconds = 0;  // the hardest case: nothing smooths the decisions
  p.scaleDownStepSeconds = 0;
  Loop loop{engineThatMeasured50PerSecond(p), 3};
  loop.now = 4;
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint64_t> noise(0, 40);
  uint64_t processed = 150;  // what engineThatMeasured50PerSecond's pod reported
  const auto traffic = [&](TimePoint now, int current) {
    const double s = std::chrono::duration<double>(now - t0).count();
    // The pods process what arrives (100/s); the queue in between is noise.
    PodReport r = report("a", now, noise(rng));
    r.processed = processed += 100;
    Inputs in = fromReports(current, {r});
    in.consumer = snapshot(now, 0, 0, static_cast<uint64_t>(100 * s));
    return in;
  };
  loop.run(100, traffic);  // the arrival rate converges (time constant 10 s)
  loop.changes.clear();
  loop.run(1000, traffic);
  EXPECT_EQ(loop.replicas, 3);
  EXPECT_EQ(loop.last.mode, Mode::kDrain);
  EXPECT_TRUE(loop.changes.empty()) << ::testing::PrintToString(loop.changes);
}

// --- Issue 13: less waste ---------------------------------------------------------------------

TEST(EngineRates, ArrivalRateRisesFastFallsSlowlyAndIgnoresSteadyNoise) {
  const auto alpha = [](double tau) { return 1 - std::exp(-1.0 / tau); };
  struct Case {
    const char* what;
    double from, to;  // rate before (converged) and after the step
    int seconds;      // after the step
    double expected;  // the fast (2 s) or the slow (10 s) average, whichever is used
  };
  const double fast1 = 100 + alpha(2) * 700, slow1 = 100 + alpha(10) * 700;
  const double fast3 = 800 - 700 * std::pow(1 - alpha(2), 3);
  const double slowDown5 = 100 + 700 * std::pow(1 - alpha(10), 5);
  for (const auto& c : std::vector<Case>{
           {"surge after 1 s: the fast average", 100, 800, 1, fast1},
           {"surge after 3 s", 100, 800, 3, fast3},
           {"drop after 5 s: the slow average", 800, 100, 5, slowDown5},
           {"a rise within the surge margin: the slow average", 100, 115, 3,
            115 - 15 * std::pow(1 - alpha(10), 3)},
       }) {
    ArrivalRate rate(2s, 10s, 0.2);
    int s = 0;
    for (; s < 200; ++s)
      rate.observeArrived(c.from, at(s), at(s + 1));
    for (int k = 0; k < c.seconds; ++k, ++s)
      rate.observeArrived(c.to, at(s), at(s + 1));
    ASSERT_TRUE(rate.rate(at(s), 30s)) << c.what;
    EXPECT_NEAR(*rate.rate(at(s), 30s), c.expected, 1e-4) << c.what;
    EXPECT_GT(fast1, 1.2 * slow1);  // the surge case does switch to the fast average
  }
  // Steady traffic with +-20% noise each second stays on the slow average, near the mean.
  ArrivalRate noisy(2s, 10s, 0.2);
  std::mt19937 rng(13);
  std::uniform_real_distribution<double> noise(80, 120);
  double largest = 0;
  for (int s = 0; s < 2000; ++s) {
    noisy.observeArrived(noise(rng), at(s), at(s + 1));
    if (s > 100) largest = std::max(largest, *noisy.rate(at(s + 1), 30s));
  }
  EXPECT_LT(largest, 120);
}

TEST(EngineRates, ARememberedPerPodRateStartsDrainModeUntilThePodsAreMeasured) {
  Tuning t;
  // Remembered from the Channel's status, measured 10 minutes before t0.
  Engine e = makeEngine({}, t);
  e.rememberPerPodRate(50, t0 - 600s);
  auto d = e.evaluate(fromReports(1, {report("a", at(0), 1000)}), at(0));
  EXPECT_EQ(d.mode, Mode::kDrain) << "from the first evaluation";
  ASSERT_TRUE(d.perPodRate);
  EXPECT_DOUBLE_EQ(*d.perPodRate, 50);
  EXPECT_FALSE(e.learnedPerPodRate(at(0))) << "a remembered rate is not learned again";
  // The pods measure 40/s: that replaces it.
  for (int s = 1; s <= 4; ++s)
    d = e.evaluate(fromReports(1, {busyReport("a", at(s), 40u * static_cast<uint64_t>(s))}), at(s));
  EXPECT_DOUBLE_EQ(*d.perPodRate, 40);
  ASSERT_TRUE(e.learnedPerPodRate(at(4)));
  EXPECT_DOUBLE_EQ(e.learnedPerPodRate(at(4))->perPodRate, 40);
  EXPECT_EQ(e.learnedPerPodRate(at(4))->measuredAt, at(4));
  // Trusted for throughputMaxAge after it was measured, not after it was remembered; then
  // used at a falling trust (the reason says so) until throughputForgetAfter.
  struct Case {
    double rate;
    Duration age;
    std::optional<double> used;  // the per-pod rate drain mode uses; empty: lag mode
  };
  const Duration halfway = t.throughputMaxAge + (t.throughputForgetAfter - t.throughputMaxAge) / 2;
  for (const auto& c : std::vector<Case>{{50, t.throughputMaxAge - 1s, 50},
                                         {50, halfway, 37.5},
                                         {50, t.throughputForgetAfter, 25},
                                         {50, t.throughputForgetAfter + 1s, std::nullopt},
                                         {0, 1s, std::nullopt},
                                         {-3, 1s, std::nullopt},
                                         {std::nan(""), 1s, std::nullopt}}) {
    Engine fresh = makeEngine({}, t);
    fresh.rememberPerPodRate(c.rate, t0 - c.age);
    const Decision fd = fresh.evaluate(fromReports(1, {report("a", t0, 10)}), t0);
    EXPECT_EQ(fd.mode == Mode::kDrain, c.used.has_value()) << c.rate;
    if (!c.used) continue;
    ASSERT_TRUE(fd.perPodRate);
    EXPECT_NEAR(*fd.perPodRate, *c.used, 1e-9);
    if (*c.used < c.rate) {
      EXPECT_THAT(fd.reason, HasSubstr("per-pod rate from 50.0/s measured "));
      EXPECT_THAT(fd.reason,
                  HasSubstr(*c.used == 25 ? "m ago, trusted 50%" : "m ago, trusted 75%"));
    } else {
      EXPECT_THAT(fd.reason, Not(HasSubstr("trusted")));
    }
  }
}

TEST(EngineRates, AStreamIntervalTheReportsCoveredCountsOnce) {
  ArrivalRate rate(2s, 10s, 0.2);
  rate.observe(0, at(0));
  for (int s = 0; s < 100; ++s)
    rate.observeArrived(100, at(s), at(s + 1));
  const double before = *rate.rate(at(100), 30s);
  // The stream read at t=100 covers (0, 100], which the reports covered already.
  EXPECT_TRUE(rate.observe(10000, at(100)));
  EXPECT_DOUBLE_EQ(*rate.rate(at(100), 30s), before);
  // An interval the reports did not cover counts (20/s).
  EXPECT_TRUE(rate.observe(10100, at(105)));
  const double after = *rate.rate(at(105), 30s);
  EXPECT_LT(after, before);
  // Empty intervals and non-finite counts are ignored.
  rate.observeArrived(1e9, at(105), at(105));
  rate.observeArrived(std::nan(""), at(105), at(106));
  EXPECT_DOUBLE_EQ(*rate.rate(at(106), 30s), after);
}

TEST(EngineDrain, ArrivalFromTheReportsEverySecond) {
  // No stream read at all: the reports' backlog grows 250/s while the pod takes 50/s, so 300/s
  // arrive. Within 3 s the estimate is past half of it (the old 10 s stream smoothing, fed
  // every 5 s, would still be at zero).
  Engine e = engineThatMeasured50PerSecond({}, {});
  Decision d;
  for (int s = 4; s <= 6; ++s) {
    d = e.evaluate(fromReports(4, {busyReport("a", at(s), 150u + 50u * (s - 3),
                                              1000u + 250u * static_cast<uint64_t>(s - 3))}),
                   at(s));
  }
  EXPECT_EQ(d.arrivalSource, ArrivalSource::kStream);
  EXPECT_GT(d.arrivalRate, 150);
  EXPECT_LT(d.arrivalRate, 300);
}

TEST(EngineDrain, ScaleUpWaitsForPodsAskedForWhileTheyCoverTheArrivals) {
  Policy p;
  p.maxReplicas = 50;
  Tuning t;
  t.arrivalFromReports = false;
  struct Case {
    const char* what;
    double podsRate;  // the arrival (pods' rate) at t=5
    int reporting;    // of the 8 asked for at t=4
    double at;        // seconds
    int desired;
  };
  for (const auto& c : std::vector<Case>{
           {"6 of 8 pods not ready, arrivals covered: wait", 100, 2, 5, 8},
           // (1.2 x 100 + 500.8) / 50 = 12.4; up to the band's top ceil(13.7) = 14.
           {"all ready: scale up", 100, 8, 5, 14},
           {"grace over: scale up", 100, 2, 34, 14},
           // 1.2 x 400 / 50 = 9.6 > 8 asked for; (480 + 500.8) / 50 = 19.6 -> ceil(21.6) = 22.
           {"arrivals alone need more than asked for: at once", 400, 2, 5, 22},
       }) {
    Engine e = engineThatMeasured50PerSecond(p, t);
    // t=4: 8 asked for (a scale-up from 1).
    ASSERT_EQ(
        e.evaluate(fromReports(1, {busyReport("a", at(4), 200, 3500)}), at(4)).desiredReplicas, 8);
    std::vector<PodReport> reports;
    for (int i = 0; i < c.reporting; ++i) {
      const auto processed = static_cast<uint64_t>(200 + 50 * (c.at - 4));  // still 50/s
      static const char* const names[] = {"a", "p1", "p2", "p3", "p4", "p5", "p6", "p7"};
      PodReport r = busyReport(names[i], at(c.at), processed, 5000);
      r.rate = c.podsRate / c.reporting;
      reports.push_back(r);
    }
    const Decision d = e.evaluate(fromReports(8, reports), at(c.at));
    EXPECT_EQ(d.desiredReplicas, c.desired) << c.what << ": " << d.reason;
    if (c.desired == 8) {
      EXPECT_THAT(d.reason,
                  HasSubstr("; scale-up waits for 6 of 8 pods asked for 1s ago (up to 30s)"));
    }
  }
}

TEST(EngineDrain, ToleranceBandAgainstFlapping) {
  // Arrival 0, 50/s per pod, targetDrainSeconds 10: the formula is backlog / 500 replicas.
  Policy p;
  p.stabilizationSeconds = 0;  // nothing else smooths
  p.scaleDownStepSeconds = 0;
  p.maxReplicas = 20;
  Tuning t;
  t.arrivalFromReports = false;
  t.startupGrace = 0s;          // (the helper's first evaluation was a scale-up)
  t.minScaleDownStepShare = 0;  // (with no arrivals, -1 steps would wait for bigger ones)
  struct Case {
    int current;
    uint64_t backlog;
    int desired;
  };
  for (const auto& c : std::vector<Case>{
           {9, 4000, 9},  // formula 8.0; x 1.1 = 8.8 -> 9: within the band, hold
           {9, 3600, 8},  // 7.2; x 1.1 = 7.92 -> 8: down
           {9, 4400, 9},  // 8.8 -> 9: equal
           {3, 1750, 4},  // 3.5 -> 4; up to the band's top ceil(3.85) = 4
           {3, 1850, 5},  // 3.7 -> 4; up to ceil(4.07) = 5
       }) {
    Engine e = engineThatMeasured50PerSecond(p, t);
    const Decision d = e.evaluate(fromReports(c.current, {report("a", at(4), c.backlog)}), at(4));
    EXPECT_EQ(d.mode, Mode::kDrain);
    EXPECT_EQ(d.desiredReplicas, c.desired) << c.current << " " << c.backlog << ": " << d.reason;
  }
  // Lag mode is KEDA's rule, without a band.
  Engine lag = makeEngine(p, t);
  EXPECT_EQ(lag.evaluate(fromReports(9, {report("a", at(0), 800)}), at(0)).desiredReplicas, 8);
}

TEST(EngineScaleDown, SmallStepsWaitForAWorthwhileOne) {
  // Lag mode, 100/replica: 100 recommended at t=0, 99 for t=1..5, then 40. The window (60 s)
  // lets 99 at t=61 and 40 at t=66.
  Policy p;
  p.maxReplicas = 200;
  const auto traffic = [](TimePoint now, int current) {
    const double s = std::chrono::duration<double>(now - t0).count();
    const uint64_t pending = s < 0.5 ? 10000 : s < 5.5 ? 9900 : 4000;
    return fromReports(current, {report("a", now, pending)});
  };
  struct Case {
    double share;
    std::vector<Change> changes;
  };
  for (const auto& c : std::vector<Case>{
           // Issue 13: 100 -> 99 would use up the step interval; wait for -50 instead.
           {0.5,
            {{66, 100, 50, DecisionKind::kScaledDown}, {81, 50, 40, DecisionKind::kScaledDown}}},
           // Before: every step taken, the whole way down later by a step interval.
           {0,
            {{61, 100, 99, DecisionKind::kScaledDown},
             {76, 99, 50, DecisionKind::kScaledDown},
             {91, 50, 40, DecisionKind::kScaledDown}}},
       }) {
    Tuning t;
    t.minScaleDownStepShare = c.share;
    Loop loop{makeEngine(p, t), 100};
    loop.run(120, traffic);
    EXPECT_EQ(loop.changes, c.changes) << c.share;
  }
}

TEST(EngineDrain, ADrainedBacklogDoesNotHoldItsReplicasForAWindow) {
  // steadyWindow: after a burst is drained, what the arrivals need is what the window holds.
  Tuning t;
  t.arrivalFromReports = false;
  for (const bool steady : {true, false}) {
    t.steadyWindow = steady;
    Loop loop{engineThatMeasured50PerSecond({}, t), 1};
    loop.now = 4;
    // 50/s arrive (pods' rate); a backlog of 4000 for 5 s, then none.
    const auto traffic = [](TimePoint now, int current) {
      const double s = std::chrono::duration<double>(now - t0).count();
      PodReport r = report("a", now, s < 9.5 ? 4000 : 0);
      r.rate = 50;
      return fromReports(current, {r});
    };
    loop.run(9, traffic);
    EXPECT_EQ(loop.replicas, 10);  // (1.2 x 50 + 400) / 50 = 9.2 -> 10
    // A fresh engine observes a whole window (t=0..60) first. Then the window holds 2
    // (ceil(1.2 x 50 x 1.1 / 50)) with steadyWindow, else the burst's 10 until t=69; the step
    // limit (50%) and its interval (15 s) apply either way.
    loop.run(65, traffic);
    EXPECT_EQ(loop.replicas, steady ? 5 : 10) << ::testing::PrintToString(loop.changes);
    loop.run(120, traffic);
    EXPECT_EQ(loop.replicas, 2) << ::testing::PrintToString(loop.changes);
  }
}

TEST(EngineDrain, ADumpsPeakScalesUpButTheWindowHoldsTheSustainedRate) {
  // windowSustained: 20,000 messages in 10 s (t=5..14). The fast average scales up for them;
  // the window holds what the sustained average (arrivalSustained) needed, not the fast one's
  // peak.
  Policy p;
  p.maxReplicas = 100;
  struct Case {
    bool sustained;
    std::chrono::seconds sustainedTau;
    std::vector<Change> downs;  // the first two scale-downs
  };
  const std::vector<Case> cases = {
      // The 30 s average peaked at about 2000 x (1 - e^(-1/3)) = 567/s: ceil(1.2 x 567 / 50 x
      // 1.1) = 15, so the first step, as soon as the engine has observed a whole window
      // (t=60), is the step limit's (-24), and the next one goes to what the window holds.
      {true,
       30s,
       {{60, 49, 25, DecisionKind::kScaledDown}, {75, 25, 15, DecisionKind::kScaledDown}}},
      // A 10 s average peaked at about 2000 x (1 - 1/e) = 1264/s: 34, held until it ages.
      {true,
       10s,
       {{60, 49, 34, DecisionKind::kScaledDown}, {77, 34, 25, DecisionKind::kScaledDown}}},
      // The fast one's peak held 49 until it aged: 31 at t=75.
      {false,
       30s,
       {{75, 49, 31, DecisionKind::kScaledDown}, {90, 31, 16, DecisionKind::kScaledDown}}},
  };
  for (const Case& c : cases) {
    Tuning t;
    t.arrivalFromReports = false;  // the stream reads alone feed the arrival rate
    t.windowSustained = c.sustained;
    t.arrivalSustained = c.sustainedTau;
    Loop loop{engineThatMeasured50PerSecond(p, t), 1};
    loop.now = 4;
    const auto traffic = [](TimePoint now, int current) {
      const double s = std::chrono::duration<double>(now - t0).count();
      const auto sequence = static_cast<uint64_t>(2000 * std::clamp(s - 4, 0.0, 10.0));
      Inputs in = fromReports(current, {report("a", now, 0)});
      in.consumer = snapshot(now, 0, 0, sequence);
      return in;
    };
    loop.run(14, traffic);
    // The surge is scaled up for either way, on the fast average (2 s): 49 by t=9.
    EXPECT_EQ(loop.replicas, 49) << ::testing::PrintToString(loop.changes);
    loop.run(200, traffic);
    std::vector<Change> downs;
    for (const Change& change : loop.changes) {
      if (change.kind == DecisionKind::kScaledDown && downs.size() < 2) downs.push_back(change);
    }
    EXPECT_EQ(downs, c.downs) << c.sustained << " " << c.sustainedTau.count() << "s "
                              << ::testing::PrintToString(loop.changes);
    EXPECT_EQ(loop.replicas, 0) << ::testing::PrintToString(loop.changes);  // idle 120 s
  }
}

TEST(EngineDrain, AnIdleChannelsWindowIsReleasedAfterIdleWindowRelease) {
  // 200/s processed by the pods until t=100, then nothing. The window holds what 200/s needed
  // (ceil(1.2 x 200 / 50 x 1.1) = 6) for 60 s after the arrivals fell; with idleWindowRelease
  // it is released once the channel has been idle that long, and the 50% steps take it down
  // 45 s sooner.
  struct Case {
    std::chrono::seconds release;
    std::vector<Change> downs;
  };
  const std::vector<Case> cases = {
      {0s,
       {{160, 6, 3, DecisionKind::kScaledDown},
        {175, 3, 2, DecisionKind::kScaledDown},
        {190, 2, 1, DecisionKind::kScaledDown},
        {220, 1, 0, DecisionKind::kScaledToZero}}},
      {15s,
       {{115, 6, 3, DecisionKind::kScaledDown},
        {130, 3, 2, DecisionKind::kScaledDown},
        {145, 2, 1, DecisionKind::kScaledDown},
        {220, 1, 0, DecisionKind::kScaledToZero}}},
  };
  for (const Case& c : cases) {
    Tuning t;
    t.arrivalFromReports = false;  // the pods' rate as the arrival
    t.idleWindowRelease = c.release;
    Loop loop{engineThatMeasured50PerSecond({}, t), 6};
    loop.now = 4;
    const auto traffic = [](TimePoint now, int current) {
      const double s = std::chrono::duration<double>(now - t0).count();
      PodReport r = report("a", now, 0);
      r.processed = static_cast<uint64_t>(200 * std::min(s, 100.0));
      r.rate = s < 100 ? 200 : 0;
      return fromReports(current, {r});
    };
    loop.run(115, traffic);
    EXPECT_THAT(loop.last.reason,
                c.release > 0s
                    ? HasSubstr("the window's 6 released: idle 15s >= 15s (idleWindowRelease)")
                    : HasSubstr("scale-down held: largest recommendation in the last 60s is 6"));
    loop.run(250, traffic);
    // Scale to zero keeps its own idle time (120 s) either way.
    EXPECT_EQ(loop.changes, c.downs) << c.release.count() << "s";
  }
}

TEST(EngineDrain, AScaleUpIsNotTakenBackWithinAStepInterval) {
  // steadyWindow holds the arrivals' part only; a backlog's scale-up must still not be undone
  // at the next evaluation when the figures move (a pod just asked for would be removed).
  Tuning t;
  t.arrivalFromReports = false;  // the arrival is the pods' rate (50/s)
  Loop loop{engineThatMeasured50PerSecond({}, t), 2};
  loop.now = 4;
  const auto traffic = [](TimePoint now, int current) {
    const double s = std::chrono::duration<double>(now - t0).count();
    PodReport r = report("a", now, s > 79.5 && s < 80.5 ? 2000 : 0);
    r.rate = 50;
    return fromReports(current, {r});
  };
  loop.run(79, traffic);
  const size_t before = loop.changes.size();
  loop.run(120, traffic);
  // (1.2 x 50 + 200) / 50 = 5.2, to the band's top 6; down towards what the arrivals need (2)
  // only once the scale-down step interval (15 s) has passed since the scale-up, by 50% steps.
  const std::vector<Change> after(loop.changes.begin() + static_cast<ptrdiff_t>(before),
                                  loop.changes.end());
  EXPECT_EQ(after, (std::vector<Change>{{80, 2, 6, DecisionKind::kScaledUp},
                                        {95, 6, 3, DecisionKind::kScaledDown},
                                        {110, 3, 2, DecisionKind::kScaledDown}}));
}

// --- Clock edge cases ------------------------------------------------------------------------

TEST(EngineClock, EqualTimestampsGiveTheSameDecision) {
  Engine e = makeEngine();
  const Inputs in = fromReports(2, {report("a", t0, 500, 60, 60)});
  auto first = e.evaluate(in, t0);
  auto again = e.evaluate(in, t0);
  EXPECT_EQ(first.desiredReplicas, again.desiredReplicas);
  EXPECT_EQ(first.reason, again.reason);
}

TEST(EngineClock, ReportsFromTheFuture) {
  Engine e = makeEngine();
  // Slightly ahead (stamped by a caller with a later clock read): fresh.
  auto d = e.evaluate(fromReports(1, {report("a", t0 + 2s, 300)}), t0);
  EXPECT_EQ(d.desiredReplicas, 3);
  // Far ahead: ignored, and said so.
  d = e.evaluate(fromReports(3, {report("a", t0 + 1h, 900)}), t0 + 1s);
  EXPECT_FALSE(d.hasSignal);
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_THAT(d.reason, HasSubstr("1 future-stamped reports ignored"));
  // A consumer read from the far future is ignored too (also for the arrival rate).
  d = e.evaluate(fromConsumer(3, snapshot(t0 + 1h, 900, 0, 99999)), t0 + 2s);
  EXPECT_FALSE(d.hasSignal);
}

TEST(EngineClock, TimeNeverGoesBackInsideTheEngine) {
  Engine e = makeEngine();
  for (int s = 0; s <= 70; ++s)
    e.evaluate(fromReports(6, {report("a", at(s), 600)}), at(s));
  // A caller passes an earlier `now`: treated as t=70, so the report stamped t=70 is fresh and
  // the window still holds the 6s.
  auto d = e.evaluate(fromReports(6, {report("a", at(70), 0)}), at(10));
  EXPECT_TRUE(d.hasSignal);
  EXPECT_EQ(d.desiredReplicas, 6);
  EXPECT_THAT(d.reason, HasSubstr("largest recommendation in the last 60s is 6"));
}

TEST(EngineClock, AReportExactlyAtTheStalenessLimitCounts) {
  Engine e = makeEngine();
  auto d = e.evaluate(fromReports(1, {report("a", t0, 500)}), t0 + 5s);
  EXPECT_TRUE(d.hasSignal);
  EXPECT_EQ(d.desiredReplicas, 5);
  d = e.evaluate(fromReports(5, {report("a", t0, 500)}), t0 + 5s + 1ms);
  EXPECT_FALSE(d.hasSignal);
}

// --- Noisy and contradictory reports ---------------------------------------------------------

TEST(EngineNoisy, ContradictoryPodsUseTheFreshest) {
  Engine e = makeEngine();
  // Pod b read the consumer last and saw it drained; pod a's older read said 900.
  auto d = e.evaluate(
      fromReports(2, {report("a", t0 - 800ms, 900, 10, 5), report("b", t0 - 100ms, 50, 10, 5)}),
      t0);
  EXPECT_EQ(d.backlog.figuresFrom, "b");
  EXPECT_EQ(d.backlog.total, 60u);
  EXPECT_EQ(d.desiredReplicas, 2);
}

TEST(EngineNoisy, SpikesScaleUpAtOnceDipsWaitForTheWindow) {
  Loop loop{makeEngine(), 2};
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> coin(0, 9);
  loop.run(59, [&](TimePoint now, int current) {
    // Mostly 150 waiting, sometimes a spike of 800 or a dip to 0.
    const int c = coin(rng);
    const uint64_t pending = c == 0 ? 800 : (c == 1 ? 0 : 150);
    return fromReports(current, {report("a", now, pending)});
  });
  // Up to 8 on the first spike, and never down within the minute.
  ASSERT_FALSE(loop.changes.empty());
  EXPECT_EQ(loop.changes.front().to, 8);
  for (const auto& c : loop.changes)
    EXPECT_GT(c.to, c.from) << c;
}

TEST(EngineNoisy, DuplicateReportsOfOnePodCountOnce) {
  Engine e = makeEngine();
  auto d = e.evaluate(fromReports(1, {report("a", t0 - 1s, 0, 40, 30), report("a", t0, 0, 40, 10),
                                      report("a", t0 - 2s, 0, 40, 40)}),
                      t0);
  EXPECT_EQ(d.backlog.livePods, 1);
  EXPECT_EQ(d.backlog.heldByLivePods, 10);
  EXPECT_EQ(d.backlog.total, 10u);
}

// --- Window ----------------------------------------------------------------------------------

TEST(EngineWindow, SlidingMaximumWithBoundedMemory) {
  StabilizationWindow w(60s);
  EXPECT_FALSE(w.largest(t0));
  w.add(at(0), 5);
  w.add(at(10), 3);
  w.add(at(20), 4);  // drops the 3: it can never be the largest again
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(*w.largest(at(60)), 5);  // exactly the window length: still inside
  EXPECT_EQ(*w.largest(at(61)), 4);
  EXPECT_FALSE(w.largest(at(81)));
  for (int s = 100; s < 10000; ++s)
    w.add(at(s), 1);
  EXPECT_EQ(w.size(), 1u);
}

// --- Property: bounds and no scale-down inside the window after an increase ------------------

Policy randomPolicy(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Policy p;
  p.minReplicas = pick(0, 2) == 0 ? pick(1, 3) : 0;
  p.maxReplicas = p.minReplicas + pick(1, 20);
  p.targetBacklogPerReplica = pick(1, 200);
  p.targetDrainSeconds = pick(1, 30);
  p.activationBacklog = pick(1, 20);
  p.stabilizationSeconds = pick(0, 90);
  p.maxStepPercent = pick(1, 100);
  p.scaleToZeroAfterSeconds = pick(0, 150);
  p.scaleUpMaxStep = pick(0, 1) == 0 ? 0 : pick(1, 5);
  p.headroom = 1.0 + pick(0, 10) / 10.0;
  p.reportStaleness = std::chrono::milliseconds(pick(2000, 8000));
  p.scaleDownStepSeconds = pick(0, 20);
  return p;
}

TEST(EngineProperty, ReplicasStayInBoundsAndNeverDropInsideTheWindowAfterAnIncrease) {
  // How often each outcome happened over all runs: the inputs must reach every rule, or the
  // property would hold trivially.
  std::map<DecisionKind, int> kinds;
  int drainDecisions = 0;
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const Policy p = randomPolicy(rng);
    Engine engine = makeEngine(p);
    Engine twin = makeEngine(p);  // fed the same: decides the same (determinism)
    SCOPED_TRACE("seed " + std::to_string(seed) + " min " + std::to_string(p.minReplicas) +
                 " max " + std::to_string(p.maxReplicas) + " window " +
                 std::to_string(p.stabilizationSeconds) + " toZero " +
                 std::to_string(p.scaleToZeroAfterSeconds));

    int replicas = pick(p.minReplicas, p.maxReplicas);
    TimePoint now = t0;
    TimePoint engineNow = now;  // what the engine uses: never earlier than before
    std::optional<TimePoint> lastIncrease;
    uint64_t sequence = 0;
    std::map<std::string, uint64_t> processedByPod;
    int regime = pick(0, 2);  // 0 quiet, 1 noisy trickle, 2 burst
    const int64_t staleAckPending = pick(0, 1) == 0 ? 0 : pick(1, 5);
    int downsInsideWindow = 0, outOfBounds = 0, missedActivation = 0, divergent = 0;

    for (int step = 0; step < 4000; ++step) {
      // Time: mostly about a second; sometimes equal stamps, long gaps, or going back.
      const int r = pick(0, 99);
      if (r < 5) {
        // same timestamp
      } else if (r < 6) {
        now -= std::chrono::milliseconds(pick(1, 2000));
      } else if (r < 7 && pick(0, 3) == 0) {
        now += std::chrono::seconds(pick(6, 40));  // a signal gap
      } else {
        now += std::chrono::milliseconds(pick(100, 1500));
      }
      engineNow = std::max(engineNow, now);
      // Regimes last minutes: quiet (long enough to reach zero), a noisy trickle, a burst.
      if (pick(0, 149) == 0) regime = pick(0, 2);
      const bool quiet = regime == 0;

      uint64_t pending = 0;
      if (regime == 1) pending = static_cast<uint64_t>(pick(0, 30));
      if (regime == 2) pending = static_cast<uint64_t>(pick(50, 5000));
      // Quiet: only a stale ack-pending count nobody holds (#6093) may remain.
      const int64_t ackPending = quiet ? staleAckPending : (pick(0, 3) == 0 ? pick(0, 50) : 0);
      if (!quiet) sequence += static_cast<uint64_t>(pick(0, 200));

      Inputs in;
      in.currentReplicas = replicas;
      const int pods = std::min(replicas, 6);
      for (int i = 0; i < pods; ++i) {
        if (pick(0, 9) == 0) continue;  // a lost report
        PodReport rep;
        rep.pod = "pod-" + std::to_string(pick(0, 8));  // names churn and repeat
        // Stamped up to 1.5 s ago, sometimes older (stale), slightly or far in the future.
        rep.receivedAt = now - std::chrono::milliseconds(pick(0, 1500));
        if (pick(0, 9) == 0) rep.receivedAt = now - std::chrono::milliseconds(pick(0, 12000));
        if (pick(0, 19) == 0) rep.receivedAt = now + std::chrono::milliseconds(pick(0, 20000));
        // Contradictory reads of the same consumer.
        const int64_t noise = quiet ? 0 : pick(-20, 20);
        rep.consumer = ConsumerCounts{
            static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(pending) + noise)),
            ackPending, pick(0, 3)};
        rep.inFlight = quiet ? 0 : pick(0, 10);
        uint64_t& processed = processedByPod[rep.pod];
        if (!quiet) processed += static_cast<uint64_t>(pick(0, 60));
        if (!quiet && pick(0, 99) == 0) processed = 0;  // the sidecar restarted
        rep.processed = processed;
        rep.busyFraction = pick(0, 10) / 10.0;
        rep.rate = pick(0, 100);
        if (pick(0, 19) == 0) rep.consumer.reset();
        in.reports.push_back(rep);
      }
      // The operator reads the consumer itself when no pod reports (and now and then anyway);
      // rarely, nothing at all is known.
      const bool podsReported = !in.reports.empty();
      if (!podsReported || pick(0, 1) == 0) {
        in.consumer =
            snapshot(now - std::chrono::milliseconds(pick(0, 1500)), pending, ackPending, sequence);
      }
      if (pick(0, 999) == 0) {
        in.reports.clear();
        in.consumer.reset();
      }

      const Decision d = engine.evaluate(in, now);
      const Decision t = twin.evaluate(in, now);
      if (d.desiredReplicas != t.desiredReplicas || d.reason != t.reason) ++divergent;

      if (d.desiredReplicas < p.minReplicas || d.desiredReplicas > p.maxReplicas) ++outOfBounds;
      if (d.kind != classify(replicas, d.desiredReplicas)) ++outOfBounds;
      // Inside the window after an increase nothing drops, except in drain mode (steadyWindow,
      // issue 13): there the window holds what the arrivals need, so once a backlog that drove
      // an increase is drained, replicas may go, but never below the whole formula's answer.
      if (lastIncrease &&
          engineNow - *lastIncrease <= std::chrono::seconds(p.stabilizationSeconds) &&
          d.desiredReplicas < replicas &&
          !(d.mode == Mode::kDrain && d.desiredReplicas >= d.recommendedReplicas)) {
        ++downsInsideWindow;
        ADD_FAILURE() << "step " << step << ": " << replicas << " -> " << d.desiredReplicas
                      << " at +" << std::chrono::duration<double>(engineNow - *lastIncrease).count()
                      << "s after an increase: " << d.reason;
      }
      if (d.hasSignal && replicas == 0 &&
          d.backlog.total >= static_cast<uint64_t>(p.activationBacklog) && d.desiredReplicas == 0)
        ++missedActivation;
      if (d.desiredReplicas > replicas) lastIncrease = engineNow;
      ++kinds[d.kind];
      if (d.mode == Mode::kDrain) ++drainDecisions;
      // The actuator applies most decisions; some fail (the engine must cope with either).
      if (pick(0, 9) != 0) replicas = d.desiredReplicas;
      if (downsInsideWindow > 3) break;  // enough to diagnose
    }
    EXPECT_EQ(outOfBounds, 0);
    EXPECT_EQ(downsInsideWindow, 0);
    EXPECT_EQ(missedActivation, 0);
    EXPECT_EQ(divergent, 0);
  }
  EXPECT_GT(kinds[DecisionKind::kScaledUp], 0);
  EXPECT_GT(kinds[DecisionKind::kScaledDown], 0);
  EXPECT_GT(kinds[DecisionKind::kScaledToZero], 0);
  EXPECT_GT(kinds[DecisionKind::kActivated], 0);
  EXPECT_GT(drainDecisions, 0);
  for (const auto& [kind, count] : kinds)
    std::printf("%s: %d\n", kindName(kind), count);
  std::printf("drain-mode decisions: %d\n", drainDecisions);
}

TEST(EngineProperty, LongRunsKeepMemoryBounded) {
  // Pod names churn for hours: the engine forgets the ones gone longer than throughputMaxAge.
  Tuning t;
  t.throughputMaxAge = 60s;
  Engine e = makeEngine(Policy{}, t);
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint64_t> backlog(0, 900);
  for (int s = 0; s < 10000; ++s) {
    PodReport r = busyReport("pod-" + std::to_string(s / 10), at(s),
                             50u * static_cast<uint64_t>(s % 10), backlog(rng));
    e.evaluate(fromReports(3, {r}), at(s));
    EXPECT_LE(e.podsTracked(), 8u);
    EXPECT_LE(e.windowEntries(), 10u);  // falling values only: 10 is the max recommendation
  }
}

}  // namespace
}  // namespace osmosis::autoscaler
