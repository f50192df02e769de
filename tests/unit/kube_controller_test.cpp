#include <atomic>
#include <sstream>

#include <gtest/gtest.h>

#include "operator/kube/controller/controller.hpp"
#include "tests/fixtures/child_process.hpp"

namespace osmosis::kube {
namespace {

using namespace std::chrono_literals;

class FlakyReconciler : public Reconciler {
 public:
  std::atomic<int> calls{0};
  int failFirst = 2;
  Result<ReconcileResult> reconcile(const Request& req, const ReconcileLog& log) override {
    int n = ++calls;
    log.info("reconciling", {{"attempt", n}});
    if (req.name == "boom") throw std::runtime_error("bug");
    if (n <= failFirst) return makeError(Error::Code::kUnavailable, "not yet");
    return ReconcileResult{};
  }
};

TEST(Controller, RetriesFailuresWithBackoffUntilSuccessAndLogsAReconcileId) {
  std::ostringstream logs;
  log::Logger::global().setSink(&logs);
  WorkQueue q(std::make_unique<ItemExponentialRateLimiter>(1ms, 100ms));
  FlakyReconciler r;
  Controller c("test", r, q, 2);
  c.start();
  q.add("ns/a");
  EXPECT_TRUE(testing::eventually([&] { return r.calls.load() >= 3; }, 5s));
  c.stop();
  log::Logger::global().setSink(nullptr);
  EXPECT_EQ(r.calls.load(), 3);
  EXPECT_EQ(c.stats().errors, 2u);
  EXPECT_EQ(q.numRequeues("ns/a"), 0) << "success forgets the failures";
  std::string text = logs.str();
  EXPECT_NE(text.find("\"reconcileID\""), std::string::npos);
  EXPECT_NE(text.find("\"namespace\":\"ns\""), std::string::npos);
}

TEST(Controller, AThrowingReconcilerIsAnErrorNotACrash) {
  WorkQueue q(std::make_unique<ItemExponentialRateLimiter>(1ms, 10ms));
  FlakyReconciler r;
  r.failFirst = 0;
  Controller c("test", r, q, 1);
  c.start();
  q.add("ns/boom");
  EXPECT_TRUE(testing::eventually([&] { return c.stats().errors >= 2; }, 5s));
  c.stop();
}

TEST(Request, FromKey) {
  EXPECT_EQ(Request::fromKey("ns/a").ns, "ns");
  EXPECT_EQ(Request::fromKey("ns/a").name, "a");
  EXPECT_EQ(Request::fromKey("cluster-scoped").ns, "");
}

}  // namespace
}  // namespace osmosis::kube
