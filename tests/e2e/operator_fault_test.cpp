// The operator under faults (issue 15), end to end against the real kube-apiserver and
// nats-server, read with kubectl and the nats CLI:
// - NATS cut from the operator (a TCP proxy in between): status says NATS is unavailable,
//   the target's replicas are held (a lost signal never scales a busy Deployment down), and
//   it recovers by itself when the connection comes back.
// - Two operator replicas with leader election: kill -9 the leader in the middle of a
//   scale-up; the other takes over within the lease duration and goes on; no step is taken
//   twice, and the target never goes below what the backlog needs.
// - The API server restarted mid-run: the operator's watches recover and nothing made
//   while it was away, or right after, is missed.
// - No sidecar reports arrive: the operator measures the per-pod rate from its consumer reads
//   and leaves lag mode's backlog-only rule for drain mode (issue 13, item 4).
// No pods run here: the backlog only grows (or a test's own consumer takes it at a set pace),
// so lag mode's need is exact and stable.

#include <atomic>
#include <csignal>
#include <map>
#include <memory>
#include <regex>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
#include "tests/fixtures/operator_fixture.hpp"
#include "tests/fixtures/tcp_proxy.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::eventually;
using testing::kConverge;
using Clock = std::chrono::steady_clock;

// Lag mode: ceil(backlog / 10) replicas, at most 8; quick to go down and to zero, so a hold
// that should not happen would show within the test's observation windows.
const char* kScaling = R"(  scaling:
    minReplicas: 0
    maxReplicas: 8
    targetBacklogPerReplica: 10
    scaleToZeroAfterSeconds: 2
    scaleDown: {stabilizationSeconds: 2, maxStepPercent: 100}
)";

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class OperatorFaultTest : public testing::OperatorTest {
 protected:
  std::vector<std::string> operatorArgs() const override {
    return {"--scale-down-step-interval", "1s"};
  }

  int replicas() {
    auto r = kubectl({"get", "deployment", "worker", "-o", "jsonpath={.spec.replicas}"});
    return r.code == 0 && !r.out.empty() ? std::stoi(r.out) : -1;
  }
  void publish(int count) {
    auto r = nats({"pub", "-J", "--count", std::to_string(count), ns_ + ".orders.new", "m"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  void applyChannel() {
    ASSERT_EQ(apply(testing::kWorkerDeployment).code, 0);
    ASSERT_EQ(
        apply(manifest("orders",
                       std::string("  worker:\n    scaleTargetRef: {name: worker}\n") + kScaling))
            .code,
        0);
    waitCondition("orders", "Ready", "True");
  }
  // Every scaling Event on the Channel as (reason, message, count).
  std::vector<std::tuple<std::string, std::string, int>> scalingEvents() {
    auto r = kubectl({"get", "events", "--field-selector",
                      "involvedObject.kind=Channel,involvedObject.name=orders", "-o", "json"});
    std::vector<std::tuple<std::string, std::string, int>> out;
    json j = json::parse(r.out, nullptr, false);
    if (!j.is_object()) return out;
    for (const auto& e : j.value("items", json::array())) {
      const std::string reason = e.value("reason", "");
      if (reason == "ScaledUp" || reason == "ScaledDown" || reason == "Activated" ||
          reason == "ScaledToZero")
        out.emplace_back(reason, e.value("message", ""), e.value("count", 1));
    }
    return out;
  }
};

// --- NATS cut ------------------------------------------------------------------------------

class NatsCutTest : public OperatorFaultTest {
 protected:
  std::string operatorNatsUrl() override {
    proxy_ = std::make_unique<testing::TcpProxy>(nats_.port());
    return "nats://127.0.0.1:" + std::to_string(proxy_->port());
  }
  std::unique_ptr<testing::TcpProxy> proxy_;
};

TEST_F(NatsCutTest, ReplicasAreHeldWhileNatsIsCutAndItRecoversByItself) {
  applyChannel();
  publish(45);  // needs ceil(45 / 10) = 5
  ASSERT_TRUE(eventually([&] { return replicas() == 5; }, kConverge, 100ms))
      << "replicas " << replicas() << "\n"
      << channel("orders")["status"].dump();

  const auto cutAt = Clock::now();
  proxy_->cut();
  json ready = waitCondition("orders", "Ready", "False", "NatsUnavailable");
  std::printf("[operator-fault] NATS cut -> Ready=False NatsUnavailable in %lld ms: %s\n",
              static_cast<long long>(msSince(cutAt)), ready.value("message", "").c_str());
  // Held: well past the 2 s idle-to-zero and the 2 s stabilization, the target keeps 5.
  const auto holdUntil = Clock::now() + 8s;
  while (Clock::now() < holdUntil) {
    ASSERT_EQ(replicas(), 5) << "replicas changed while NATS was cut, " << msSince(cutAt)
                             << " ms after the cut\n"
                             << channel("orders")["status"].dump();
    std::this_thread::sleep_for(200ms);  // (sampling a window: nothing may change in it)
  }
  json scaling = condition("orders", "ScalingActive");
  std::printf("[operator-fault] while cut: ScalingActive=%s %s: %s\n",
              scaling.value("status", "").c_str(), scaling.value("reason", "").c_str(),
              scaling.value("message", "").c_str());
  EXPECT_NE(scaling.value("status", ""), "True") << scaling.dump();

  const auto restoredAt = Clock::now();
  proxy_->restore();
  waitCondition("orders", "Ready", "True");
  waitCondition("orders", "ScalingActive", "True");
  std::printf("[operator-fault] NATS back -> Ready and ScalingActive in %lld ms\n",
              static_cast<long long>(msSince(restoredAt)));
  // The figures are current again, and new work is seen and acted on.
  publish(30);  // backlog 75 -> 8
  ASSERT_TRUE(eventually([&] { return replicas() == 8; }, kConverge, 100ms))
      << "replicas " << replicas() << "\n"
      << channel("orders")["status"].dump();
  EXPECT_TRUE(
      eventually([&] { return channel("orders")["status"].value("backlog", int64_t{-1}) == 75; },
                 kConverge, 100ms))
      << channel("orders")["status"].dump();
  // The cut was told to the user as an Event, not only as a condition.
  EXPECT_TRUE(waitEvent("orders", "NatsUnavailable"));
}

// --- operator failover mid scale-up -----------------------------------------------------------

class OperatorFailoverTest : public OperatorFaultTest {
 protected:
  // Two replicas electing a leader on a 4 s lease instead of the one default replica.
  void startOperator() override {
    for (const char* id : {"a", "b"}) {
      std::vector<std::string> args = {OSMOSIS_OPERATOR_BIN,
                                       "--kubeconfig",
                                       cp_->kubeconfig(),
                                       "--watch-namespace",
                                       ns_,
                                       "--nats-url",
                                       natsUrl(),
                                       "--http-address",
                                       "127.0.0.1:0",
                                       "--resync-period",
                                       "1s",
                                       "--scale-down-step-interval",
                                       "1s",
                                       "--leader-election-namespace",
                                       ns_,
                                       "--leader-election-identity",
                                       id,
                                       "--leader-election-lease-duration",
                                       "4s",
                                       "--leader-election-renew-deadline",
                                       "3s",
                                       "--leader-election-retry-period",
                                       "500ms"};
      auto child =
          ChildProcess::spawn({args, {}, dir_ + "/" + id + ".out", dir_ + "/" + id + ".err"});
      ASSERT_TRUE(child.ok());
      operators_[id] = std::move(child.value());
    }
  }
  void TearDown() override {
    for (auto& [id, p] : operators_) {
      if (!p.running()) continue;
      p.signal(SIGTERM);
      auto st = p.waitFor(30s);
      EXPECT_TRUE(st.has_value() && st->exited() && st->code == 0)
          << "operator " << id << " did not stop cleanly";
    }
    if (HasFailure())
      for (const char* id : {"a", "b"})
        std::printf("--- operator %s ---\n%s%s\n", id,
                    testing::readFile(dir_ + "/" + id + ".out").c_str(),
                    testing::readFile(dir_ + "/" + id + ".err").c_str());
    OperatorFaultTest::TearDown();
  }
  std::string holder() {
    auto r = kubectl({"get", "lease", "osmosis-operator", "-o", "jsonpath={.spec.holderIdentity}"});
    return r.code == 0 ? r.out : std::string();
  }
  std::map<std::string, ChildProcess> operators_;
};

TEST_F(OperatorFailoverTest, KillingTheLeaderMidScaleUpHandsOverAndNoStepIsTakenTwice) {
  ASSERT_TRUE(eventually([&] { return holder() == "a" || holder() == "b"; }, kConverge));
  const std::string leader = holder(), follower = leader == "a" ? "b" : "a";
  applyChannel();

  // A scale-up in progress: the backlog grows by 10 every 300 ms, so the need climbs one
  // replica at a time, 1 -> 8.
  std::vector<int> seen;  // every replica count observed, in order
  auto sample = [&] {
    const int r = replicas();
    if (r >= 0 && (seen.empty() || seen.back() != r)) seen.push_back(r);
    return r;
  };
  int published = 0;
  Clock::time_point killedAt{};
  int atKill = -1;
  for (int step = 0; step < 8; ++step) {
    publish(10);
    published += 10;
    const auto until = Clock::now() + 300ms;
    while (Clock::now() < until) {
      sample();
      std::this_thread::sleep_for(30ms);  // (sampling while publishing at a fixed pace)
    }
    if (step == 3) {
      atKill = sample();
      killedAt = Clock::now();
      operators_[leader].kill();  // SIGKILL: no lease release, the follower waits it out
    }
  }
  ASSERT_TRUE(eventually([&] { return holder() == follower; }, 30s, 50ms))
      << "holder '" << holder() << "'";
  const auto takeover = msSince(killedAt);
  ASSERT_TRUE(eventually([&] { return sample() == 8; }, kConverge, 50ms))
      << "replicas " << replicas() << " with a backlog of " << published << "\n"
      << channel("orders")["status"].dump();
  const auto reached = msSince(killedAt);
  // Held at the need: a few more samples must not see it move.
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    sample();
    std::this_thread::sleep_for(100ms);  // (sampling a window: nothing may change in it)
  }

  std::string path;
  for (int r : seen)
    path += (path.empty() ? "" : " ") + std::to_string(r);
  std::printf(
      "[operator-fault] killed leader %s at replicas %d; %s leads %lld ms later (lease 4000 ms); "
      "replicas 8 %lld ms after the kill; replicas seen: %s\n",
      leader.c_str(), atKill, follower.c_str(), static_cast<long long>(takeover),
      static_cast<long long>(reached), path.c_str());
  EXPECT_LT(takeover, 4000 + 3000) << "takeover took longer than the lease plus slack";
  // Never down while the backlog only grew, never past the need.
  for (size_t i = 1; i < seen.size(); ++i)
    EXPECT_GT(seen[i], seen[i - 1]) << "replicas went down: " << path;
  EXPECT_EQ(seen.back(), 8) << path;
  // Each step once: the follower goes on from what is there, it does not repeat the dead
  // leader's last step (an Event with count > 1, or two with one message, would be that).
  std::map<std::string, int> messages;
  auto events = scalingEvents();
  for (const auto& [reason, message, count] : events) {
    EXPECT_EQ(count, 1) << reason << ": " << message;
    EXPECT_EQ(++messages[message], 1) << "twice: " << message;
  }
  EXPECT_FALSE(events.empty());
  const std::string newLog = testing::readFile(dir_ + "/" + follower + ".out");
  EXPECT_NE(newLog.find("became leader"), std::string::npos) << newLog;
}

// --- API server restart -----------------------------------------------------------------------

class ApiserverRestartTest : public OperatorFaultTest {};

TEST_F(ApiserverRestartTest, WatchesRecoverAndNothingMadeMeanwhileIsMissed) {
  applyChannel();
  publish(25);  // -> 3
  ASSERT_TRUE(eventually([&] { return replicas() == 3; }, kConverge, 100ms));

  const auto t0 = Clock::now();
  auto restarted = cp_->restartApiserver();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  std::printf("[operator-fault] kube-apiserver restarted in %lld ms\n",
              static_cast<long long>(msSince(t0)));
  // Made while the operator's watches are still reconnecting: a new Channel, and more work
  // for the old one.
  publish(30);  // backlog 55 -> 6
  ASSERT_EQ(apply(manifest("refunds", "  scaling: {maxReplicas: 2}\n")).code, 0);
  waitCondition("refunds", "Ready", "True");
  ASSERT_TRUE(eventually([&] { return replicas() == 6; }, kConverge, 100ms))
      << "replicas " << replicas() << "\n"
      << channel("orders")["status"].dump();
  // An edit after the restart is followed too (the watch, not only a relist at start).
  ASSERT_EQ(kubectl({"patch", "channel", "orders", "--type", "merge", "-p",
                     R"({"spec":{"scaling":{"maxReplicas":4}}})"})
                .code,
            0);
  ASSERT_TRUE(eventually([&] { return replicas() == 4; }, kConverge, 100ms))
      << "replicas " << replicas();
  std::printf("[operator-fault] after the restart: new Channel Ready, scale 3 -> 6 -> 4, %lld ms\n",
              static_cast<long long>(msSince(t0)));
  EXPECT_EQ(operatorLog().find("\"level\":\"fatal\""), std::string::npos);
  EXPECT_TRUE(op_.running());
}

// --- No sidecar reports ----------------------------------------------------------------------

class NoReportsTest : public OperatorFaultTest {
 protected:
  void TearDown() override {
    stop_ = true;
    if (worker_.joinable()) worker_.join();
    OperatorFaultTest::TearDown();
  }

  // Stands in for pods whose sidecars' reports never arrive: takes the Channel's consumer at
  // 20 messages a second in all, and acks them.
  void startWorker() {
    nats::ConnectionOptions o;
    o.urls = {nats_.url()};
    auto conn = nats::Connection::connect(o);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    auto js = nats::JetStream::create(conn.value());
    ASSERT_TRUE(js.ok()) << js.error().message;
    auto sub = js->pullSubscribe(stream("orders"), "workers");
    ASSERT_TRUE(sub.ok()) << sub.error().message;
    worker_ = std::thread(
        [this, c = conn.value(), j = std::move(js.value()), s = std::move(sub.value())]() mutable {
          auto next = Clock::now();
          while (!stop_) {
            next += 100ms;  // 2 per 100 ms: the pace, not a synchronisation
            if (auto msgs = s.fetch(2, 100ms); msgs.ok()) {
              for (auto& m : msgs.value()) {
                if (auto acked = m.ack(); acked.ok()) finished_++;
              }
            }
            std::this_thread::sleep_until(next);
          }
          (void)j;
          (void)c;
        });
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> finished_{0};
  std::thread worker_;
};

TEST_F(NoReportsTest, TheConsumerReadsMeasureThePerPodRateAndDrainModeScales) {
  ASSERT_EQ(apply(testing::kWorkerDeployment).code, 0);
  ASSERT_EQ(apply(manifest("orders", R"(  worker:
    scaleTargetRef: {name: worker}
  scaling:
    maxReplicas: 8
    targetBacklogPerReplica: 10
    targetDrainSeconds: 120
    scaleDown: {stabilizationSeconds: 2, maxStepPercent: 100}
)"))
                .code,
            0);
  waitCondition("orders", "Ready", "True");
  publish(2000);  // lag mode: ceil(2000 / 10) -> maxReplicas 8
  ASSERT_TRUE(eventually([&] { return replicas() == 8; }, kConverge, 100ms))
      << "replicas " << replicas() << "\n"
      << channel("orders")["status"].dump();
  const auto at8 = Clock::now();
  startWorker();
  ASSERT_FALSE(HasFatalFailure());
  // 30 s (startupGrace) after the scale-up the 8 replicas count as started; a run of reads
  // with messages waiting then measures 20/s / 8 = 2.5/s per pod, and drain mode asks for
  // what drains the backlog in 120 s: about 1300 / 120 / 2.5 = 4.3 -> 5.
  ASSERT_TRUE(
      eventually([&] { return !eventMessages("orders", "ScaledDown").empty(); }, 90s, 500ms))
      << "no scale-down; replicas " << replicas() << ", " << finished_ << " finished\n"
      << channel("orders")["status"].dump();
  const std::string message = eventMessages("orders", "ScaledDown").front();
  std::printf("[operator-fault] no reports: %d finished, scaled down %lld ms after 8: %s\n",
              finished_.load(), static_cast<long long>(msSince(at8)), message.c_str());
  EXPECT_NE(message.find("per-pod rate from the consumer's acks (no pod reports)"),
            std::string::npos)
      << message;
  std::smatch perPod;
  ASSERT_TRUE(std::regex_search(message, perPod, std::regex(R"(x ([0-9.]+)/s per pod)")))
      << message;
  const double rate = std::stod(perPod[1]);
  EXPECT_GT(rate, 1.5) << message;  // 20/s over 8 replicas, from real JetStream figures
  EXPECT_LT(rate, 3.5) << message;
  json scaling = condition("orders", "ScalingActive");
  EXPECT_NE(scaling.value("message", "").find("(drain mode)"), std::string::npos) << scaling.dump();
  // Kept for a restarted operator, as the pods' own measurement would be.
  double kept = 0;
  EXPECT_TRUE(eventually(
      [&] {
        kept = channel("orders")["status"]
                   .value("throughput", json::object())
                   .value("perPodRate", 0.0);
        return kept > 1.5 && kept < 3.5;
      },
      kConverge, 200ms))
      << "status.throughput.perPodRate " << kept << "\n"
      << channel("orders")["status"].dump();
  EXPECT_TRUE(op_.running());
}

}  // namespace
}  // namespace osmosis
