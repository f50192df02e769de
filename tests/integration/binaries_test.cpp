// The two binaries as a user meets them: flags, exit codes, JSON logs, signals.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fixtures/child_process.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

struct RunResult {
  testing::ExitStatus status;
  std::string out, err;
};

class BinaryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { dir_ = testing::makeTempDir("osmosis-bin"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // What each binary needs to start. The operator: an API server config (this one points
  // nowhere; it retries, logs and still stops cleanly). The sidecar: its channel and consumer
  // (NATS at the default URL is not there; it retries and still stops cleanly).
  std::vector<std::string> requiredArgs() {
    if (GetParam().find("operator") == std::string::npos) {
      return {"--channel",  "orders",  "--namespace", "shop",     "--stream", "SHOP_ORDERS",
              "--consumer", "workers", "--pod",       "test-pod", "--listen", "127.0.0.1:0"};
    }
    std::ofstream(dir_ + "/kubeconfig")
        << "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
           "contexts: [{name: c, context: {cluster: c}}]\n"
           "current-context: c\n";
    return {"--kubeconfig", dir_ + "/kubeconfig", "--leader-elect=false", "--http-address",
            "127.0.0.1:0"};
  }

  ChildProcess start(std::vector<std::string> args) {
    auto required = requiredArgs();
    args.insert(args.begin(), required.begin(), required.end());
    args.insert(args.begin(), GetParam());
    auto child = ChildProcess::spawn(
        {.argv = args, .env = {}, .stdoutPath = dir_ + "/out", .stderrPath = dir_ + "/err"});
    EXPECT_TRUE(child.ok());
    return std::move(child.value());
  }

  RunResult run(std::vector<std::string> args) {
    auto child = start(std::move(args));
    auto status = child.waitFor(20s);
    EXPECT_TRUE(status.has_value()) << "did not exit";
    return {status.value_or(testing::ExitStatus{}), testing::readFile(dir_ + "/out"),
            testing::readFile(dir_ + "/err")};
  }

  std::string out() const { return testing::readFile(dir_ + "/out"); }

  std::string dir_;
};

TEST_P(BinaryTest, HelpExitsZero) {
  auto r = run({"--help"});
  EXPECT_EQ(r.status.code, 0);
  EXPECT_NE(r.out.find("--nats-url"), std::string::npos);
  EXPECT_NE(r.out.find("--log-level"), std::string::npos);
}

TEST_P(BinaryTest, VersionExitsZero) {
  auto r = run({"--version"});
  EXPECT_EQ(r.status.code, 0);
  EXPECT_NE(r.out.find("0."), std::string::npos) << r.out;
}

TEST_P(BinaryTest, BadFlagsExitTwoAndSayWhatIsWrong) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c :
       std::vector<Case>{{{"--no-such-flag"}, "--no-such-flag"},
                         {{"--log-level", "loud"}, "loud"},
                         {{"--nats-url", "http://x"}, "http://x"},
                         {{"--nats-user", "u"}, "password"},
                         {{"--nats-tls-ca", "/nonexistent.pem"}, "/nonexistent.pem"}}) {
    auto r = run(c.args);
    EXPECT_EQ(r.status.code, 2) << c.args[0];
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    std::filesystem::remove(dir_ + "/err");
  }
}

TEST_P(BinaryTest, LogsJsonLinesAndStopsCleanlyOnSigtermAndSigint) {
  for (int sig : {SIGTERM, SIGINT}) {
    std::filesystem::remove(dir_ + "/out");
    auto child = start({"--log-level", "debug"});
    ASSERT_TRUE(
        testing::eventually([&] { return out().find("\"starting\"") != std::string::npos; }, 20s))
        << out();
    child.signal(sig);
    auto status = child.waitFor(20s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->exited());
    EXPECT_EQ(status->code, 0);
    std::istringstream lines(out());
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line);  // throws (and fails the test) if not JSON
      EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
      ++n;
    }
    EXPECT_GE(n, 3);  // starting, shutdown requested, stopped
    EXPECT_NE(out().find("\"stopped\""), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Binaries, BinaryTest,
                         ::testing::Values(OSMOSIS_OPERATOR_BIN, OSMOSIS_SIDECAR_BIN),
                         [](const auto& param) {
                           return std::string(param.param).find("operator") != std::string::npos
                                      ? "operator"
                                      : "sidecar";
                         });

}  // namespace
}  // namespace osmosis
