// The sidecar binary refuses bad configuration at start with a clear message and exit code 2.

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/fixtures/child_process.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;

struct Run {
  ExitStatus status;
  std::string err;
};

Run run(std::vector<std::string> args, std::vector<std::string> env = {}) {
  auto dir = makeTempDir("osmosis-sidecar-flags");
  ChildProcess::Options o;
  o.argv = {OSMOSIS_SIDECAR_BIN};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = std::move(env);
  o.stderrPath = dir + "/err";
  auto p = ChildProcess::spawn(o);
  EXPECT_TRUE(p.ok());
  auto st = p->waitFor(10s);
  EXPECT_TRUE(st.has_value());
  Run r{st.value_or(ExitStatus{}), readFile(dir + "/err")};
  std::filesystem::remove_all(dir);
  return r;
}

const std::vector<std::string> kGood = {"--channel",  "orders", "--namespace", "shop",
                                        "--pod",      "p",      "--stream",    "ORDERS",
                                        "--consumer", "workers"};

TEST(SidecarFlags, BadValuesExitTwoWithAClearMessage) {
  std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--app-port", "0"}, "--app-port 0 is not a port"},
      {{"--concurrency", "-3"}, "--concurrency -3"},
      {{"--backoff", "fast"}, "--backoff \"fast\""},
      {{"--mode", "push"}, "--mode \"push\""},
      {{"--report-interval", "10"}, "--report-interval"},
      {{"--app-port", "eighty"}, "--app-port"},  // CLI11 type check
  };
  for (auto& [extra, expect] : cases) {
    auto args = kGood;
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args);
    EXPECT_EQ(r.status.code, 2) << extra[0];
    EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
  }
  auto missing = run({});
  EXPECT_EQ(missing.status.code, 2);
  EXPECT_NE(missing.err.find("--channel is required"), std::string::npos) << missing.err;
}

TEST(SidecarFlags, EnvironmentVariablesAreChecked) {
  auto r = run(kGood, {"OSMOSIS_CONCURRENCY=0"});
  EXPECT_EQ(r.status.code, 2);
  EXPECT_NE(r.err.find("--concurrency 0"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace osmosis::testing
