#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "operator/kube/queue/work_queue.hpp"
#include "operator/kube/util/backoff.hpp"

namespace osmosis::kube {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<WorkQueue> makeQueue(FakeClock& clock) {
  return std::make_unique<WorkQueue>(std::make_unique<ItemExponentialRateLimiter>(5ms, 1000s),
                                     clock, false);
}

TEST(WorkQueue, DuplicateAddsMerge) {
  FakeClock clock;
  auto q = makeQueue(clock);
  q->add("a");
  q->add("b");
  q->add("a");
  EXPECT_EQ(q->len(), 2u);
  EXPECT_EQ(q->get(), "a");
  EXPECT_EQ(q->get(), "b");
}

TEST(WorkQueue, AKeyAddedWhileProcessingComesBackOnlyAfterDone) {
  FakeClock clock;
  auto q = makeQueue(clock);
  q->add("a");
  auto key = q->get();
  ASSERT_EQ(key, "a");
  q->add("a");
  q->add("a");
  EXPECT_EQ(q->len(), 0u) << "must not hand out a key that is being processed";
  q->done("a");
  EXPECT_EQ(q->len(), 1u);
  EXPECT_EQ(q->get(), "a");
  q->done("a");
  EXPECT_EQ(q->len(), 0u);
}

TEST(WorkQueue, NoKeyIsEverProcessedByTwoWorkersAtOnce) {
  WorkQueue q(std::make_unique<ItemExponentialRateLimiter>(), RealClock::instance());
  std::mutex mu;
  std::set<std::string> active;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto k = q.get()) {
        {
          std::lock_guard lock(mu);
          if (!active.insert(*k).second) overlap = true;
        }
        std::this_thread::yield();
        {
          std::lock_guard lock(mu);
          active.erase(*k);
        }
        ++processed;
        q.done(*k);
      }
    });
  }
  for (int i = 0; i < 20000; ++i)
    q.add("key-" + std::to_string(i % 5));
  while (q.len() > 0)
    std::this_thread::yield();
  q.shutDown();
  for (auto& t : workers)
    t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GT(processed.load(), 0);
}

TEST(WorkQueue, RateLimitedRetriesBackOffExponentiallyUntilForgotten) {
  FakeClock clock;
  auto q = makeQueue(clock);
  std::vector<std::chrono::nanoseconds> waits;
  for (int i = 0; i < 4; ++i) {
    q->addRateLimited("a");
    EXPECT_EQ(q->len(), 0u);
    // Find how long until it is ready, in 1 ms steps.
    int64_t ms = 0;
    while (q->len() == 0 && ms < 1000) {
      clock.advance(1ms);
      ++ms;
      q->pumpDelayed();
    }
    waits.push_back(std::chrono::milliseconds(ms));
    ASSERT_EQ(q->get(), "a");
    q->done("a");
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::nanoseconds>{5ms, 10ms, 20ms, 40ms}));
  EXPECT_EQ(q->numRequeues("a"), 4);
  q->forget("a");
  EXPECT_EQ(q->numRequeues("a"), 0);
}

// controller-runtime's priority queue: keys added now go before keys back from a delay; a
// key waiting in the later lane is promoted when added now, also while it is processed.
TEST(WorkQueue, KeysAddedNowGoBeforeRequeuedOnes) {
  FakeClock clock;
  auto q = makeQueue(clock);
  for (const char* k : {"tick-1", "tick-2", "tick-3", "busy"})
    q->addAfter(k, 1s);
  clock.advance(1s);
  q->pumpDelayed();
  q->add("poked");
  q->add("tick-2");  // promoted out of the later lane
  EXPECT_EQ(q->len(), 5u);
  EXPECT_EQ(q->get(), "poked");
  EXPECT_EQ(q->get(), "tick-2");
  EXPECT_EQ(q->get(), "tick-1");
  q->add("tick-1");  // while processed: after done(), in the lane of now
  q->addAfter("late", 1s);
  clock.advance(1s);
  q->pumpDelayed();
  q->done("tick-1");
  EXPECT_EQ(q->get(), "tick-1");
  EXPECT_EQ(q->get(), "tick-3");
  EXPECT_EQ(q->get(), "busy");
  EXPECT_EQ(q->get(), "late");
  EXPECT_EQ(q->len(), 0u);
}

TEST(WorkQueue, AddAfterKeepsTheEarliestTime) {
  FakeClock clock;
  auto q = makeQueue(clock);
  q->addAfter("a", 10s);
  q->addAfter("a", 1s);
  q->addAfter("a", 20s);
  EXPECT_EQ(q->delayedLen(), 1u);
  clock.advance(999ms);
  q->pumpDelayed();
  EXPECT_EQ(q->len(), 0u);
  clock.advance(1ms);
  q->pumpDelayed();
  EXPECT_EQ(q->len(), 1u);
}

TEST(WorkQueue, TimerThreadMovesDelayedKeysOnARealClock) {
  WorkQueue q(std::make_unique<ItemExponentialRateLimiter>());
  q.addAfter("later", 30ms);
  auto k = q.tryGet(5s);
  EXPECT_EQ(k, "later");
}

TEST(WorkQueue, ShutdownWakesBlockedWorkers) {
  FakeClock clock;
  auto q = makeQueue(clock);
  std::optional<std::string> got = "sentinel";
  std::thread t([&] { got = q->get(); });
  q->shutDown();
  t.join();
  EXPECT_FALSE(got.has_value());
}

TEST(WorkQueue, ShutdownHandsOutNoWaitingKey) {
  FakeClock clock;
  auto q = makeQueue(clock);
  q->add("a");
  q->add("b");
  q->shutDown();
  EXPECT_FALSE(q->get().has_value());
  EXPECT_FALSE(q->tryGet(10ms).has_value());
  q->add("c");  // ignored once shut down
  EXPECT_FALSE(q->get().has_value());
}

TEST(Backoff, GrowsWithinJitterBoundsAndCaps) {
  BackoffPolicy p{100ms, 2.0, 0.5, 1000ms};
  for (int attempt = 0; attempt < 10; ++attempt) {
    double base = std::min(100.0 * std::pow(2.0, attempt), 1000.0);
    for (double u : {0.0, 0.25, 0.999}) {
      auto d = backoffDelay(p, attempt, u);
      EXPECT_GE(d.count(), static_cast<int64_t>(base)) << attempt;
      EXPECT_LE(d.count(), static_cast<int64_t>(base * 1.5)) << attempt;
    }
  }
  Random rnd(42);
  Backoff b(p, rnd);
  auto first = b.next();
  b.next();
  b.reset();
  EXPECT_LE(b.next(), 150ms);
  EXPECT_GE(first, 100ms);
}

TEST(TokenBucket, BurstThenQps) {
  FakeClock clock;
  TokenBucket bucket(10.0, 3, clock);
  EXPECT_EQ(bucket.reserve().count(), 0);
  EXPECT_EQ(bucket.reserve().count(), 0);
  EXPECT_EQ(bucket.reserve().count(), 0);
  EXPECT_NEAR(std::chrono::duration<double>(bucket.reserve()).count(), 0.1, 1e-6);
  clock.advance(1s);
  EXPECT_TRUE(bucket.tryTake());
  TokenBucket strict(1.0 / 300, 1, clock);
  EXPECT_TRUE(strict.tryTake());
  EXPECT_FALSE(strict.tryTake());
  clock.advance(301s);
  EXPECT_TRUE(strict.tryTake());
}

}  // namespace
}  // namespace osmosis::kube
