// Reports: at least once a second, at once on a large backlog move, with the right numbers,
// on osmosis.report.<namespace>.<channel>; a final one on SIGTERM; report mode.

#include <gtest/gtest.h>
#include <nats/nats.h>

#include "common/report/report.hpp"
#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class SidecarReportTest : public SidecarFixture {
 protected:
  void SetUp() override {
    SidecarFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
    ASSERT_EQ(natsConnection_SubscribeSync(&sub_, conn_->raw(), "osmosis.report.shop.orders"),
              NATS_OK);
  }
  void TearDown() override {
    natsSubscription_Destroy(sub_);
    SidecarFixture::TearDown();
  }

  struct Received {
    report::Report report;
    Clock::time_point at;
  };
  // The next report within `timeout`, parsed and validated.
  std::optional<Received> next(std::chrono::milliseconds timeout) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub_, timeout.count()) != NATS_OK) return std::nullopt;
    std::string data(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
    auto r = report::parse(data);
    EXPECT_TRUE(r.ok()) << r.error().message << ": " << data;
    if (!r.ok()) return std::nullopt;
    return Received{r.value(), Clock::now()};
  }
  // Reads reports until one satisfies `pred`.
  template <typename P>
  std::optional<report::Report> until(P pred, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto r = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      if (r && pred(r->report)) return r->report;
    }
    return std::nullopt;
  }

  natsSubscription* sub_ = nullptr;
};

TEST_F(SidecarReportTest, ArriveEverySecondWithTheRightNumbers) {
  createQueue();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--concurrency", "2"});
  ASSERT_TRUE(waitReady(sidecar));
  for (int i = 0; i < 20; ++i)
    publish("id=ok" + std::to_string(i));
  for (int i = 0; i < 5; ++i)
    publish("id=bad" + std::to_string(i) + " status=400");

  auto done = until(
      [](const report::Report& r) {
        return r.processed == 20 && r.failed == 5 && r.figures && r.figures->pending == 0 &&
               r.figures->ackPending == 0 && r.inFlight == 0;
      },
      30s);
  ASSERT_TRUE(done.has_value()) << readFile(sidecar.log);
  EXPECT_EQ(done->namespace_, "shop");
  EXPECT_EQ(done->channel, "orders");
  EXPECT_EQ(done->pod, "sidecar");
  EXPECT_EQ(done->mode, "dispatch");
  EXPECT_EQ(done->stream, "ORDERS");
  EXPECT_EQ(done->consumer, "workers");
  EXPECT_EQ(done->concurrency, 2);
  EXPECT_EQ(done->figures->redelivered, 0);
  EXPECT_TRUE(done->ready);
  EXPECT_FALSE(done->final);
  EXPECT_FALSE(done->version.empty());
  EXPECT_GT(done->rate, 0);
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - done->time), 10s);

  // At least once a second: gaps between consecutive reports over a few seconds.
  auto prev = next(3s);
  ASSERT_TRUE(prev.has_value());
  for (int i = 0; i < 4; ++i) {
    auto cur = next(3s);
    ASSERT_TRUE(cur.has_value());
    EXPECT_LE(cur->at - prev->at, 1500ms);  // 1 s interval, with room for a loaded machine
    EXPECT_EQ(cur->report.sequence, prev->report.sequence + 1);
    prev = cur;
  }

  sidecar.process.signal(SIGTERM);
  auto last = until([](const report::Report& r) { return r.final; }, 10s);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->processed, 20u);
  auto exit = sidecar.process.waitFor(10s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0);
}

TEST_F(SidecarReportTest, LargeBacklogChangeIsReportedAtOnce) {
  createQueue();
  auto app = startApp(freePort(), {"--delay-ms", "20"});
  // A long interval, so a report in between can only be the immediate kind.
  auto sidecar = startSidecar(app.port, {"--report-interval", "20s", "--concurrency", "1"});
  ASSERT_TRUE(waitReady(sidecar));
  ASSERT_TRUE(next(5s).has_value());  // the first, at start
  for (int i = 0; i < 1000; ++i)
    publish("id=b" + std::to_string(i));
  auto burst =
      until([](const report::Report& r) { return r.figures && r.figures->pending >= 500; }, 10s);
  ASSERT_TRUE(burst.has_value()) << readFile(sidecar.log);
}

TEST_F(SidecarReportTest, ReportModeOnlyReports) {
  createQueue();
  auto sidecar = startSidecar(freePort(), {"--mode", "report"});
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  for (int i = 0; i < 7; ++i)
    publish("id=r" + std::to_string(i));
  auto seen =
      until([](const report::Report& r) { return r.figures && r.figures->pending == 7; }, 10s);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->mode, "report");
  EXPECT_EQ(seen->processed, 0u);
  EXPECT_EQ(consumer().deliveredStreamSequence, 0u);  // the sidecar never pulled
}

TEST_F(SidecarReportTest, MissingConsumerIsReportedNotFatal) {
  nats::StreamConfig s;
  s.name = "ORDERS";
  s.subjects = {"shop.orders.>"};
  ASSERT_TRUE(js_->addStream(s).ok());
  auto sidecar = startSidecar(freePort(), {"--mode", "report"});
  auto r = until([](const report::Report& x) { return !x.error.empty(); }, 10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->figures.has_value());
  EXPECT_FALSE(r->ready);
  EXPECT_EQ(httpGet(sidecar.healthPort, "/readyz").status, 503);
  createConsumer();
  EXPECT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
}

}  // namespace
}  // namespace osmosis::testing
