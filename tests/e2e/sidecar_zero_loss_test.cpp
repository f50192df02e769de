// Zero loss: 100,000 messages with unique ids; the sidecar and the app are killed with SIGKILL
// at random points several times and nats-server (file storage) is restarted once. At the end
// every id was processed at least once; duplicates are counted and printed.
// OSMOSIS_ZERO_LOSS_MESSAGES overrides the count (e.g. for a quick local run).

#include <cstdlib>
#include <fstream>
#include <random>
#include <unordered_map>

#include <gtest/gtest.h>

#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int messageCount() {
  const char* env = std::getenv("OSMOSIS_ZERO_LOSS_MESSAGES");
  return env != nullptr && *env != '\0' ? std::atoi(env) : 100000;
}

class SidecarZeroLossTest : public SidecarFixture {};

TEST_F(SidecarZeroLossTest, KillNineAndServerRestartLoseNothing) {
  ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  createQueue(2s);  // short ackWait: what a killed sidecar held comes back soon
  const int total = messageCount();
  const auto seed = static_cast<unsigned>(Clock::now().time_since_epoch().count());
  std::mt19937 rng(seed);
  std::cout << "[zero-loss] messages=" << total << " seed=" << seed << std::endl;

  auto t0 = Clock::now();
  for (int i = 0; i < total; ++i)
    ASSERT_NE(publish("id=" + std::to_string(i)), 0u) << "publish " << i;
  std::cout << "[zero-loss] published in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
            << " ms" << std::endl;

  const int appPort = freePort();
  int generation = 0;
  auto start = [&](App* app, Sidecar* sidecar) {
    ++generation;
    std::string g = std::to_string(generation);
    *app = startApp(appPort, {}, "app" + g);
    *sidecar =
        startSidecar(appPort, {"--concurrency", "32", "--log-level", "warn", "--backoff", "100ms"},
                     "sidecar" + g);
  };
  App app;
  Sidecar sidecar;
  start(&app, &sidecar);
  std::vector<std::string> records{app.record};

  auto remaining = [&]() -> int64_t {
    auto si = js_->streamInfo("ORDERS");
    return si.ok() ? static_cast<int64_t>(si->state.messages) : -1;
  };
  // Chaos at random points spread over the run: 4 kills, the server restart after the second.
  std::vector<double> points;
  std::uniform_real_distribution<double> where(0.05, 0.95);
  for (int i = 0; i < 4; ++i)
    points.push_back(where(rng));
  std::sort(points.begin(), points.end());
  std::uniform_int_distribution<int> which(0, 2);  // 0: sidecar, 1: app, 2: both
  for (size_t k = 0; k < points.size(); ++k) {
    const auto target = static_cast<int64_t>(static_cast<double>(total) * (1.0 - points[k]));
    ASSERT_TRUE(eventually(
        [&] {
          auto r = remaining();
          return r >= 0 && r <= target;
        },
        240s, 10ms))
        << "no progress to " << target << " left; sidecar log:\n"
        << readFile(sidecar.log);
    int victim = which(rng);
    std::cout << "[zero-loss] at " << remaining() << " left: kill -9 "
              << (victim == 0   ? "sidecar"
                  : victim == 1 ? "app"
                                : "sidecar and app")
              << std::endl;
    if (victim != 1) sidecar.process.kill();
    if (victim != 0) app.process.kill();
    if (k == 1) {
      std::cout << "[zero-loss] restarting nats-server" << std::endl;
      ASSERT_TRUE(server_.stop().ok());
      auto st = server_.start();
      ASSERT_TRUE(st.ok()) << st.error().message;
    }
    if (victim == 1) {
      // The sidecar lives on; only the app comes back (the sidecar waits for it).
      ++generation;
      app = startApp(appPort, {}, "app" + std::to_string(generation));
      records.push_back(app.record);
    } else {
      if (victim == 0) app.process.kill();  // one pair per generation keeps the story simple
      start(&app, &sidecar);
      records.push_back(app.record);
    }
  }
  ASSERT_TRUE(eventually(
      [&] {
        auto ci = js_->consumerInfo("ORDERS", "workers");
        return remaining() == 0 && ci.ok() && ci->numAckPending == 0 && ci->numPending == 0;
      },
      300s, 50ms))
      << "left: " << remaining() << "\n"
      << readFile(sidecar.log);

  std::vector<int> seen(static_cast<size_t>(total), 0);
  int64_t completions = 0;
  for (const auto& path : records) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("\"ev\":\"done\"") == std::string::npos) continue;
      if (line.find("\"status\":200") == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      int id = std::stoi(j["id"].get<std::string>());
      ASSERT_GE(id, 0);
      ASSERT_LT(id, total);
      ++seen[static_cast<size_t>(id)];
      ++completions;
    }
  }
  int missing = 0;
  int duplicated = 0;
  for (int i = 0; i < total; ++i) {
    if (seen[static_cast<size_t>(i)] == 0) ++missing;
    if (seen[static_cast<size_t>(i)] > 1) ++duplicated;
  }
  std::cout << "[zero-loss] processed=" << completions << " unique=" << (total - missing)
            << " missing=" << missing << " duplicates=" << (completions - (total - missing))
            << " (ids processed more than once: " << duplicated << ") in "
            << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0).count() << " s"
            << std::endl;
  EXPECT_EQ(missing, 0);
  sidecar.process.signal(SIGTERM);
  auto exit = sidecar.process.waitFor(30s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0);
}

}  // namespace
}  // namespace osmosis::testing
