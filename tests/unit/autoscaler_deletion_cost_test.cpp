// The pod-deletion-cost plan: idle and draining pods lowest, busy pods highest, and only the
// annotations that change are patched.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operator/autoscaler/deletion_cost.hpp"

namespace osmosis::autoscaler {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + 100000s;

PodReport podReport(const std::string& pod, TimePoint at, int64_t inFlight, double busy) {
  PodReport r;
  r.pod = pod;
  r.receivedAt = at;
  r.consumer = ConsumerCounts{10, inFlight, 0};
  r.inFlight = inFlight;
  r.busyFraction = busy;
  return r;
}

TEST(DeletionCost, OnePodFromItsReport) {
  struct Case {
    const char* what;
    std::optional<PodReport> report;
    bool draining;
    int cost;
  };
  for (const auto& c : std::vector<Case>{
           {"draining wins over anything", podReport("a", t0, 5, 1), true, kDrainingCost},
           {"idle for long", podReport("a", t0, 0, 0), false, 0},
           {"idle, busy 40% of the interval", podReport("a", t0, 0, 0.4), false, 40},
           {"busy with 1 in flight", podReport("a", t0, 1, 1), false, 1001},
           {"busy with 8 in flight", podReport("a", t0, 8, 1), false, 1008},
           {"in flight capped", podReport("a", t0, 1'000'000, 1), false, 2000},
           {"busy share out of range", podReport("a", t0, 0, 7), false, 100},
           {"busy share not a number", podReport("a", t0, 0, std::nan("")), false, 0},
           {"no report", std::nullopt, false, 0},
       }) {
    EXPECT_EQ(deletionCost(c.report ? &*c.report : nullptr, c.draining), c.cost) << c.what;
  }
}

TEST(DeletionCost, PlanPatchesOnlyWhatChangesIdleLowestBusyHighest) {
  const std::vector<PodCostState> pods = {
      {"idle", std::nullopt, false},                                   // not annotated yet
      {"busy", "1004", false},                                         // already right
      {"busier", "1001", false},                                       // stale value
      {"stopping", "0", true},       {"silent", std::nullopt, false},  // no fresh report
      {"quiet", "0", false},                                           // right already
  };
  const std::vector<PodReport> reports = {
      podReport("idle", t0, 0, 0),        podReport("busy", t0 - 1s, 4, 1),
      podReport("busier", t0, 9, 1),      podReport("silent", t0 - 30s, 3, 1),  // stale
      podReport("quiet", t0, 0, 0),       podReport("elsewhere", t0, 50, 1),    // not a target pod
      podReport("busier", t0 - 2s, 1, 1),  // older report of the same pod: the newest wins
  };
  const auto plan = planDeletionCosts(pods, reports, t0, 5s);
  EXPECT_EQ(plan, (std::vector<CostPatch>{
                      {"idle", 0}, {"busier", 1009}, {"stopping", kDrainingCost}, {"silent", 0}}));
  // Applying the plan makes the next one empty.
  std::vector<PodCostState> applied = pods;
  for (auto& p : applied) {
    for (const auto& patch : plan)
      if (patch.pod == p.pod) p.annotation = std::to_string(patch.cost);
  }
  EXPECT_TRUE(planDeletionCosts(applied, reports, t0, 5s).empty());
}

TEST(DeletionCost, OrderingHoldsForAnyReports) {
  // Whatever the figures, a draining pod is cheapest and any busy pod dearer than any idle one.
  for (int inFlight = 0; inFlight <= 40; ++inFlight) {
    for (double busy : {0.0, 0.3, 1.0}) {
      const PodReport r = podReport("a", t0, inFlight, busy);
      const int cost = deletionCost(&r, false);
      EXPECT_GT(cost, deletionCost(&r, true));
      if (inFlight > 0) {
        EXPECT_GT(cost, 100);
      } else {
        EXPECT_LE(cost, 100);
      }
    }
  }
}

}  // namespace
}  // namespace osmosis::autoscaler
