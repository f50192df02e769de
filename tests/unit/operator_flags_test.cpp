// The operator's flags: every duration bounded to what uses it (issue 16, item 5), no
// credentials for injected sidecars (item 9), subject grants checked (item 2).

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "operator/flags.hpp"
#include "operator/wiring.hpp"

namespace osmosis::op {
namespace {

using namespace std::chrono_literals;

struct Parsed {
  Config config;
  std::vector<std::string> problems;
};

Parsed parseArgs(std::vector<std::string> args) {
  Parsed p;
  RawFlags raw;
  CLI::App app;
  addFlags(app, &raw);
  std::vector<const char*> argv{"osmosis-operator"};
  for (auto& a : args)
    argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  p.problems = finish(raw, &p.config);
  return p;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += s + "\n";
  return out;
}

TEST(OperatorFlags, DefaultsAreValid) {
  auto p = parseArgs({});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(p.config.resync, 30s);
  EXPECT_EQ(p.config.scaleDownStep, 15s);
  EXPECT_EQ(p.config.leaseDuration, 15s);
  EXPECT_EQ(p.config.listenPort, 8080);
  EXPECT_EQ(p.config.subjectPolicy.reportPrefix, "osmosis.report");
  EXPECT_EQ(p.config.sidecarNatsUrl, "nats://127.0.0.1:4222");
}

// The band and the idle release (docs/scaling-quality.md, the owner's choices) reach every
// Channel's engine through the scaler's options; the defaults are the engine's own.
TEST(OperatorFlags, TheToleranceBandAndIdleReleaseReachTheEngine) {
  auto p = parseArgs({});
  ASSERT_TRUE(p.problems.empty()) << joined(p.problems);
  const autoscaler::Tuning engine;
  EXPECT_EQ(scalerOptions(p.config).tuning.scaleDownTolerance, engine.scaleDownTolerance);
  EXPECT_EQ(scalerOptions(p.config).tuning.idleWindowRelease, engine.idleWindowRelease);
  EXPECT_EQ(engine.idleWindowRelease, 0s) << "off unless asked";

  p = parseArgs(
      {"--scaling-tolerance", "0.2", "--idle-window-release", "25s", "--scaling-headroom", "1.15"});
  ASSERT_TRUE(p.problems.empty()) << joined(p.problems);
  const auto o = scalerOptions(p.config);
  EXPECT_EQ(o.tuning.scaleDownTolerance, 0.2);
  EXPECT_EQ(o.tuning.idleWindowRelease, 25s);
  EXPECT_EQ(o.operatorPolicy.headroom, 1.15);
  EXPECT_TRUE(autoscaler::validate(o.tuning)) << "a tuning the engine takes";

  for (const char* bad : {"-0.1", "0.95", "1", "abc"})
    EXPECT_THROW(parseArgs({"--scaling-tolerance", bad}), CLI::ParseError) << bad;
  for (const auto& [value, expect] :
       std::vector<std::pair<const char*, const char*>>{{"2h", "longer than the maximum 1h"},
                                                        {"1500ms", "whole seconds only"},
                                                        {"500us", "whole seconds only"},
                                                        {"-5s", "invalid duration"},
                                                        {"soon", "invalid duration"}}) {
    p = parseArgs({"--idle-window-release", value});
    ASSERT_EQ(p.problems.size(), 1u) << value << "\n" << joined(p.problems);
    EXPECT_NE(p.problems[0].find("--idle-window-release"), std::string::npos) << p.problems[0];
    EXPECT_NE(p.problems[0].find(expect), std::string::npos) << p.problems[0];
  }
}

TEST(OperatorFlags, PodDeletionCostIsOffUnlessAsked) {
  EXPECT_FALSE(parseArgs({}).config.podDeletionCost);
  auto p = parseArgs({"--pod-deletion-cost"});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_TRUE(p.config.podDeletionCost);
}

TEST(OperatorFlags, EveryDurationIsBoundedWhenRead) {
  struct Case {
    const char* flag;
    const char* value;
    const char* expect;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"--resync-period", "2562047.9h", "too large"},
           {"--resync-period", "48h", "longer than the maximum 24h"},
           {"--resync-period", "10ms", "shorter than the minimum 1s"},
           {"--scale-down-step-interval", "3000000000s", "longer than the maximum 1h"},
           {"--scale-down-step-interval", "1500ms", "whole seconds only"},
           {"--leader-election-lease-duration", "600000h", "longer than the maximum 1h"},
           {"--leader-election-renew-deadline", "2562048h", "too large"},
           {"--leader-election-retry-period", "soon", "invalid duration"},
           {"--report-staleness", "100ms", "shorter than the minimum 500ms"},
           {"--report-staleness", "1h", "longer than the maximum 10m"},
       }) {
    auto p = parseArgs({c.flag, c.value});
    ASSERT_EQ(p.problems.size(), 1u) << c.flag << " " << c.value << "\n" << joined(p.problems);
    EXPECT_NE(p.problems[0].find(std::string(c.flag).substr(2)), std::string::npos)
        << p.problems[0];
    EXPECT_NE(p.problems[0].find(c.expect), std::string::npos) << p.problems[0];
  }
}

TEST(OperatorFlags, InjectedSidecarsNeverGetCredentials) {
  auto p = parseArgs({"--sidecar-nats-url", "nats://u:pw@nats:4222"});
  ASSERT_EQ(p.problems.size(), 1u) << joined(p.problems);
  EXPECT_NE(p.problems[0].find("must not carry credentials"), std::string::npos);
  EXPECT_EQ(p.problems[0].find("pw"), std::string::npos) << "not even in the error";

  p = parseArgs({"--nats-url", "nats://u:pw@a:4222,nats://b:4222"});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(p.config.sidecarNatsUrl, "nats://a:4222,nats://b:4222");
  EXPECT_TRUE(p.config.sidecarUrlStripped);
  EXPECT_EQ(p.config.nats.urls[0], "nats://u:pw@a:4222") << "the operator's own keeps them";
}

TEST(OperatorFlags, SubjectGrantsAndReportPrefix) {
  auto p = parseArgs({"--subject-grant", "legacy=orders.>", "--subject-grant", "b=x.*",
                      "--report-subject-prefix", "ops.reports"});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  ASSERT_EQ(p.config.subjectPolicy.grants.size(), 2u);
  EXPECT_EQ(p.config.subjectPolicy.grants[0].ns, "legacy");
  EXPECT_EQ(p.config.subjectPolicy.reportPrefix, "ops.reports");
  p = parseArgs({"--subject-grant", "legacy", "--report-subject-prefix", "ops.>"});
  EXPECT_EQ(p.problems.size(), 2u) << joined(p.problems);
}

TEST(OperatorFlags, NatsUrlsAreCheckedAndBounded) {
  auto p = parseArgs({"--nats-url", "nats://\x80"});
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].find("invalid NATS URL"), std::string::npos);
  std::string many;
  for (int i = 0; i < 17; ++i)
    many += "nats://h" + std::to_string(i) + ":4222,";
  p = parseArgs({"--nats-url", many});
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].find("too many NATS URLs"), std::string::npos);
}

TEST(OperatorFlags, SidecarResourcesAreQuantitiesOrEmpty) {
  auto p = parseArgs({});
  EXPECT_EQ(p.config.sidecarCpuRequest, "50m");
  EXPECT_EQ(p.config.sidecarMemoryRequest, "16Mi");
  EXPECT_EQ(p.config.sidecarCpuLimit, "");
  EXPECT_EQ(p.config.sidecarMemoryLimit, "64Mi");
  p = parseArgs({"--sidecar-cpu-request", "0.25", "--sidecar-memory-request", "32Mi",
                 "--sidecar-cpu-limit", "1", "--sidecar-memory-limit", "none"});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(p.config.sidecarCpuRequest, "0.25");
  EXPECT_EQ(p.config.sidecarCpuLimit, "1");
  EXPECT_EQ(p.config.sidecarMemoryLimit, "") << "none: no limit";
  // What the chart renders: every flag with "=", so an empty value never swallows the next.
  p = parseArgs({"--sidecar-cpu-limit=none", "--sidecar-memory-limit=64Mi"});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(p.config.sidecarCpuLimit, "");
  EXPECT_EQ(p.config.sidecarMemoryLimit, "64Mi");
  p = parseArgs({"--sidecar-memory-limit", "64 MiB", "--sidecar-cpu-request", "-1"});
  ASSERT_EQ(p.problems.size(), 2u) << joined(p.problems);
  EXPECT_NE(p.problems[0].find("--sidecar-cpu-request \"-1\": not a Kubernetes quantity"),
            std::string::npos)
      << p.problems[0];
  for (const char* ok : {"50m", "0.5", ".5", "64Mi", "1G", "2"})
    EXPECT_TRUE(isQuantity(ok)) << ok;
  for (const char* bad : {"", "Mi", "1.", "5 m", "1mi", "1e3x", "--1"})
    EXPECT_FALSE(isQuantity(bad)) << bad;
}

TEST(OperatorFlags, WatchNamespaceIsRepeatableAndEachMustBeANamespaceName) {
  EXPECT_TRUE(parseArgs({}).config.watchNamespaces.empty());  // all namespaces
  auto p = parseArgs({"--watch-namespace", "shop"});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(p.config.watchNamespaces, std::vector<std::string>{"shop"});
  // Repeated: each once, in the order given.
  p = parseArgs(
      {"--watch-namespace", "shop", "--watch-namespace=billing", "--watch-namespace", "shop"});
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(p.config.watchNamespaces, (std::vector<std::string>{"shop", "billing"}));
  // A comma is not a separator: refused, saying how to name several.
  p = parseArgs({"--watch-namespace", "shop,bar"});
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].find("--watch-namespace \"shop,bar\": not a namespace name (one "
                               "namespace per flag: repeat --watch-namespace for several)"),
            std::string::npos)
      << p.problems[0];
  // One value per flag: a second word is not taken as another namespace.
  EXPECT_THROW(parseArgs({"--watch-namespace", "shop", "billing"}), CLI::ParseError);
  // Every bad one is named, the good ones do not hide them.
  p = parseArgs({"--watch-namespace", "shop", "--watch-namespace", "Shop", "--watch-namespace", "",
                 "--watch-namespace", std::string(64, 'a')});
  ASSERT_EQ(p.problems.size(), 3u) << joined(p.problems);
  EXPECT_NE(p.problems[0].find("--watch-namespace \"Shop\": not a namespace name (one DNS label"),
            std::string::npos)
      << p.problems[0];
  EXPECT_NE(p.problems[1].find("an empty namespace name"), std::string::npos) << p.problems[1];
  EXPECT_NE(p.problems[2].find("not a namespace name"), std::string::npos) << p.problems[2];
}

}  // namespace
}  // namespace osmosis::op
