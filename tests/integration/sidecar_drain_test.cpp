// Graceful drain on SIGTERM: the sidecar stops pulling, lets what the app started finish,
// gives back the rest, sends a final report and exits 0; another sidecar gets the rest.

#include <set>

#include <gtest/gtest.h>

#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;

class SidecarDrainTest : public SidecarFixture {
 protected:
  void SetUp() override {
    SidecarFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  }
};

std::set<std::string> ids(const std::vector<nlohmann::json>& records) {
  std::set<std::string> out;
  for (const auto& r : records)
    out.insert(r["id"].get<std::string>());
  return out;
}

TEST_F(SidecarDrainTest, SigtermUnderLoadCutsNothingOffAndHandsTheRestOver) {
  createQueue();
  const int total = 200;
  auto appA = startApp(freePort(), {"--delay-ms", "150"}, "appA");
  auto a = startSidecar(appA.port, {"--concurrency", "4", "--drain-grace", "10s"}, "sidecarA");
  ASSERT_TRUE(waitReady(a));
  for (int i = 0; i < total; ++i)
    publish("id=m" + std::to_string(i));
  // Under load: A has started some messages.
  ASSERT_TRUE(
      eventually([&] { return events(readRecords(appA.record), "start").size() >= 8; }, 20s));
  a.process.signal(SIGTERM);
  auto exit = a.process.waitFor(15s);
  ASSERT_TRUE(exit.has_value()) << readFile(a.log);
  EXPECT_EQ(exit->code, 0) << "signal " << exit->signal;

  // Every message the app started under A was finished and acked by A.
  auto recA = readRecords(appA.record);
  auto startedA = ids(events(recA, "start"));
  auto doneA = ids(events(recA, "done", 200));
  EXPECT_EQ(startedA, doneA);
  EXPECT_LT(doneA.size(), static_cast<size_t>(total));
  EXPECT_NE(readFile(a.log).find("\"abandoned\":0"), std::string::npos) << readFile(a.log);

  // The rest goes to another sidecar, none of A's finished ones again.
  auto appB = startApp(freePort(), {}, "appB");
  auto b = startSidecar(appB.port, {"--concurrency", "4"}, "sidecarB");
  ASSERT_TRUE(eventually(
      [&] {
        auto ci = consumer();
        return ci.numPending == 0 && ci.numAckPending == 0 && streamMessages() == 0;
      },
      60s))
      << readFile(b.log);
  auto doneB = ids(events(readRecords(appB.record), "done", 200));
  for (const auto& id : doneA)
    EXPECT_EQ(doneB.count(id), 0u) << id << " was processed again";
  EXPECT_EQ(doneA.size() + doneB.size(), static_cast<size_t>(total));
}

TEST_F(SidecarDrainTest, WorkLongerThanTheGracePeriodIsNakkedForAnotherPod) {
  createQueue();
  auto appA = startApp(freePort(), {}, "appA");
  auto a = startSidecar(appA.port, {"--drain-grace", "500ms"}, "sidecarA");
  ASSERT_TRUE(waitReady(a));
  publish("id=long delay=4000 slow-first=1");
  ASSERT_TRUE(
      eventually([&] { return events(readRecords(appA.record), "start").size() == 1; }, 10s));
  a.process.signal(SIGTERM);
  auto exit = a.process.waitFor(3s);  // grace 0.5 s: well before the handler's 4 s
  ASSERT_TRUE(exit.has_value()) << readFile(a.log);
  EXPECT_EQ(exit->code, 0) << "signal " << exit->signal;
  EXPECT_NE(readFile(a.log).find("drain grace period over"), std::string::npos);

  auto appB = startApp(freePort(), {}, "appB");
  auto b = startSidecar(appB.port, {}, "sidecarB");
  ASSERT_TRUE(
      eventually([&] { return events(readRecords(appB.record), "done", 200).size() == 1; }, 10s))
      << readFile(b.log);
  // (The delivery count B sees is the server's; nats-server 2.9 was seen to report 1 here in
  // one run, so it is not asserted. What matters: A gave it back at once, B finished it.)
  EXPECT_NE(readFile(a.log).find("sidecar draining: gave up waiting for the app"),
            std::string::npos);
}

}  // namespace
}  // namespace osmosis::testing
