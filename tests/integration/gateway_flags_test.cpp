// The gateway binary refuses bad configuration at start with a clear message and exit code 2
// (docs/bad-input.md, "Gateway flags"): it never starts serving on a half-read config.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/fixtures/child_process.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;

class GatewayFlags : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir("osmosis-gateway-flags");
    std::ofstream(dir_ + "/key") << "0123456789abcdef0123456789abcdef\n";
    std::ofstream(dir_ + "/short-key") << "0123456789abcdef0123456789abcde\n";  // 31 bytes
    // A kubeconfig that points nowhere: the flags are refused before it is used.
    std::ofstream(dir_ + "/kubeconfig")
        << "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
           "contexts: [{name: c, context: {cluster: c}}]\n"
           "current-context: c\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  struct Run {
    ExitStatus status;
    std::string err;
  };

  // The binary with good flags and `extra` (the good key file unless `extra` names one).
  Run run(const std::vector<std::string>& extra, bool withKey = true) {
    for (const auto& a : extra)
      withKey = withKey && a != "--signing-key-file";
    ChildProcess::Options o;
    o.argv = {OSMOSIS_GATEWAY_BIN, "--kubeconfig",    dir_ + "/kubeconfig", "--listen",
              "127.0.0.1:0",       "--health-listen", "127.0.0.1:0"};
    if (withKey) {
      o.argv.push_back("--signing-key-file");
      o.argv.push_back(dir_ + "/key");
    }
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.stderrPath = dir_ + "/err";
    o.stdoutPath = dir_ + "/out";
    auto p = ChildProcess::spawn(o);
    EXPECT_TRUE(p.ok());
    auto st = p->waitFor(10s);
    if (!st) p->kill();
    EXPECT_TRUE(st.has_value()) << "still running with " << (extra.empty() ? "" : extra[0]);
    Run r{st.value_or(ExitStatus{}), readFile(dir_ + "/err")};
    std::filesystem::remove(dir_ + "/err");
    return r;
  }

  std::string dir_;
};

TEST_F(GatewayFlags, BadValuesExitTwoWithAClearMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--signing-key-file", "/nonexistent/key"},
       "--signing-key-file \"/nonexistent/key\": "
       "cannot be read"},
      {{"--signing-key-file", dir_ + "/short-key"}, "the key has 31 bytes; at least 32"},
      {{"--max-wait", "61s"}, "--max-wait \"61s\""},
      {{"--max-wait", "soon"}, "--max-wait \"soon\""},
      {{"--keepalive", "100ms"}, "--keepalive \"100ms\""},
      {{"--stream-idle-timeout", "1s"}, "--stream-idle-timeout \"1s\""},
      {{"--listen", "nowhere"}, "--listen: "},
      {{"--listen", "127.0.0.1:70000"}, "--listen: "},
      {{"--health-listen", ":x"}, "--health-listen: "},
      {{"--watch-namespace", "Team_A"}, "--watch-namespace \"Team_A\": not a namespace name"},
      {{"--watch-namespace", "a.b"}, "--watch-namespace \"a.b\": not a namespace name"},
      {{"--max-body-bytes", "0"}, "--max-body-bytes"},
      {{"--max-streams-per-client", "0"}, "--max-streams-per-client"},
      {{"--workers", "1000"}, "--workers"},
      {{"--nats-url", "http://x"}, "http://x"},
      {{"--no-such-flag"}, "--no-such-flag"},
  };
  for (const auto& c : cases) {
    const Run r = run(c.args);
    EXPECT_EQ(r.status.code, 2) << c.args[0] << " " << (c.args.size() > 1 ? c.args[1] : "");
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.says << " not in: " << r.err;
  }
}

TEST_F(GatewayFlags, TheSigningKeyIsRequired) {
  const Run r = run({}, false);
  EXPECT_EQ(r.status.code, 2);
  EXPECT_NE(r.err.find("--signing-key-file is required"), std::string::npos) << r.err;
}

TEST_F(GatewayFlags, EveryProblemIsSaidNotOnlyTheFirst) {
  const Run r = run({"--max-wait", "2m", "--watch-namespace", "UPPER"});
  EXPECT_EQ(r.status.code, 2);
  EXPECT_NE(r.err.find("--max-wait"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--watch-namespace"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace osmosis::testing
