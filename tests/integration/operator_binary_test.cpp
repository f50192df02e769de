// osmosis-operator as a process against a real API server: configuration errors, and two
// replicas electing one leader through a Lease (checked with kubectl).

#include <csignal>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/fixtures/control_plane.hpp"

namespace osmosis {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

class OperatorBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::makeTempDir("osmosis-op"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ChildProcess start(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), OSMOSIS_OPERATOR_BIN);
    auto child =
        ChildProcess::spawn({args, {}, dir_ + "/" + name + ".out", dir_ + "/" + name + ".err"});
    EXPECT_TRUE(child.ok());
    return std::move(child.value());
  }
  std::string out(const std::string& name) const {
    return testing::readFile(dir_ + "/" + name + ".out");
  }
  std::string err(const std::string& name) const {
    return testing::readFile(dir_ + "/" + name + ".err");
  }

  std::string dir_;
};

TEST_F(OperatorBinaryTest, ConfigurationErrorsExitTwoWithTheReason) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::ofstream(dir_ + "/broken") << "clusters: [\n";
  for (const auto& c : std::vector<Case>{
           {{}, "not running in a cluster"},
           {{"--kubeconfig", "/nonexistent/kubeconfig"}, "/nonexistent/kubeconfig"},
           {{"--kubeconfig", dir_ + "/broken"}, "not valid YAML"},
           {{"--kubeconfig", dir_ + "/broken", "--leader-election-retry-period", "soon"},
            "--leader-election-retry-period"},
           {{"--kubeconfig", dir_ + "/broken", "--watch-namespace", "shop,billing"},
            "--watch-namespace \"shop,billing\": not a namespace name (one namespace per flag: "
            "repeat --watch-namespace for several)"},
           {{"--kubeconfig", dir_ + "/broken", "--watch-namespace", "shop", "--watch-namespace",
             "Billing"},
            "--watch-namespace \"Billing\": not a namespace name"},
           {{"--kubeconfig", dir_ + "/broken", "--watch-namespace", "shop", "billing"},
            "The following argument was not expected: billing"}}) {
    auto p = start("cfg", c.args);
    auto status = p.waitFor(20s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->code, 2);
    EXPECT_NE(err("cfg").find(c.says), std::string::npos) << err("cfg");
    std::filesystem::remove(dir_ + "/cfg.err");
  }
}

TEST_F(OperatorBinaryTest, TwoReplicasElectOneLeaderAndACleanStopHandsOver) {
  auto* cp = testing::sharedControlPlane();
  ASSERT_NE(cp, nullptr);
  std::string ns = cp->createNamespace("op");
  auto holder = [&] {
    auto r = cp->kubectl(
        {"get", "lease", "-n", ns, "osmosis-operator", "-o", "jsonpath={.spec.holderIdentity}"});
    return r.code == 0 ? r.out : std::string();
  };
  std::vector<std::string> common = {"--kubeconfig",
                                     cp->kubeconfig(),
                                     "--leader-election-namespace",
                                     ns,
                                     "--leader-election-lease-duration",
                                     "4s",
                                     "--leader-election-renew-deadline",
                                     "3s",
                                     "--leader-election-retry-period",
                                     "500ms",
                                     "--http-address",
                                     "127.0.0.1:0"};
  auto argsFor = [&](const std::string& id) {
    auto a = common;
    a.insert(a.end(), {"--leader-election-identity", id});
    return a;
  };
  ChildProcess a = start("a", argsFor("a"));
  ChildProcess b = start("b", argsFor("b"));
  ASSERT_TRUE(testing::eventually([&] { return holder() == "a" || holder() == "b"; }, 20s))
      << out("a") << out("b");
  std::string leader = holder();
  ChildProcess& leaderProc = leader == "a" ? a : b;
  std::string follower = leader == "a" ? "b" : "a";
  EXPECT_NE(out(leader).find("became leader"), std::string::npos);
  EXPECT_EQ(out(follower).find("became leader"), std::string::npos) << "two leaders";

  auto stopAt = std::chrono::steady_clock::now();
  leaderProc.signal(SIGTERM);
  auto status = leaderProc.waitFor(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0);
  EXPECT_NE(out(leader).find("released leader lease"), std::string::npos) << out(leader);
  ASSERT_TRUE(testing::eventually([&] { return holder() == follower; }, 20s));
  auto handover = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - stopAt);
  // Released, not expired: well inside the 4 s lease duration (plus process exit).
  std::printf("leadership handed over %lld ms after SIGTERM (lease duration 4000 ms)\n",
              static_cast<long long>(handover.count()));
  EXPECT_LT(handover, 4s) << out(leader) << out(follower);
}

}  // namespace
}  // namespace osmosis
