#include <algorithm>
#include <cstdlib>
#include <map>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "sidecar/config.hpp"

namespace osmosis::sidecar {
namespace {

using namespace std::chrono_literals;

std::map<std::string, std::string>* gEnv = nullptr;

std::string fakeEnv(const char* name) {
  auto it = gEnv->find(name);
  return it == gEnv->end() ? "" : it->second;
}

struct Parsed {
  Config config;
  std::vector<std::string> problems;
  bool parsed = true;
};

Parsed parseArgs(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  gEnv = &env;
  Parsed p;
  RawFlags raw;
  CLI::App app;
  addFlags(app, &p.config, &raw);
  std::vector<const char*> argv{"osmosis-sidecar"};
  for (auto& a : args)
    argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
    p.parsed = false;
    return p;
  }
  p.problems = finish(raw, &p.config, &fakeEnv);
  return p;
}

const std::vector<std::string> kRequired = {"--channel",  "orders", "--namespace", "shop",
                                            "--pod",      "p-1",    "--stream",    "ORDERS",
                                            "--consumer", "workers"};

// The required flags with `extra` added, or replacing a required flag's value.
std::vector<std::string> with(std::vector<std::string> extra) {
  auto args = kRequired;
  for (size_t i = 0; i + 1 < extra.size(); i += 2) {
    auto it = std::find(args.begin(), args.end(), extra[i]);
    if (it != args.end()) {
      *(it + 1) = extra[i + 1];
    } else {
      args.push_back(extra[i]);
      args.push_back(extra[i + 1]);
    }
  }
  return args;
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const auto& p : problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

TEST(SidecarConfig, DefaultsAreValid) {
  auto p = parseArgs(kRequired);
  ASSERT_TRUE(p.problems.empty()) << p.problems.front();
  EXPECT_EQ(p.config.mode, Mode::kDispatch);
  EXPECT_EQ(p.config.appPort, 8080);
  EXPECT_EQ(p.config.appPath, "/");
  EXPECT_EQ(p.config.reportInterval, 1s);
  EXPECT_EQ(p.config.drainGrace, 25s);
  EXPECT_FALSE(p.config.ackWait.has_value());
  EXPECT_FALSE(p.config.backoff.has_value());
}

TEST(SidecarConfig, ResultsAreOffByDefault) {
  auto p = parseArgs(kRequired);
  ASSERT_TRUE(p.problems.empty()) << p.problems.front();
  EXPECT_FALSE(p.config.results);
  EXPECT_EQ(p.config.localListen, "127.0.0.1:9092");
  EXPECT_EQ(p.config.maxResultBytes, 1024u * 1024u);
}

TEST(SidecarConfig, ResultsFromFlagsAndEnvironment) {
  // (CLI11 reads the process environment itself.)
  ::setenv("OSMOSIS_RESULTS", "true", 1);
  auto p = parseArgs(with({"--local-listen", "127.0.0.2:7000", "--max-result-bytes", "4096"}));
  ::unsetenv("OSMOSIS_RESULTS");
  ASSERT_TRUE(p.problems.empty()) << p.problems.front();
  EXPECT_TRUE(p.config.results);
  EXPECT_EQ(p.config.localListen, "127.0.0.2:7000");
  EXPECT_EQ(p.config.maxResultBytes, 4096u);

  auto args = kRequired;
  args.insert(args.end(), {"--results", "--local-listen", ""});
  auto flag = parseArgs(args);
  ASSERT_TRUE(flag.problems.empty()) << flag.problems.front();
  EXPECT_TRUE(flag.config.results);
  EXPECT_EQ(flag.config.localListen, "");  // disabled

  ::setenv("OSMOSIS_LOCAL_LISTEN", "127.0.0.1:0", 1);
  auto env = parseArgs(kRequired);
  ::unsetenv("OSMOSIS_LOCAL_LISTEN");
  ASSERT_TRUE(env.problems.empty()) << env.problems.front();
  EXPECT_EQ(env.config.localListen, "127.0.0.1:0");
}

TEST(SidecarConfig, DownwardApiFillsPodAndNamespace) {
  auto p = parseArgs({"--channel", "orders", "--stream", "S", "--consumer", "c"},
                     {{"POD_NAME", "w-1"}, {"POD_NAMESPACE", "shop"}});
  ASSERT_TRUE(p.problems.empty()) << p.problems.front();
  EXPECT_EQ(p.config.pod, "w-1");
  EXPECT_EQ(p.config.ns, "shop");
}

TEST(SidecarConfig, MissingRequiredValuesAreNamed) {
  auto p = parseArgs({});
  for (auto flag : {"--channel", "--namespace", "--pod", "--stream", "--consumer"})
    EXPECT_TRUE(mentions(p.problems, flag)) << flag;
}

TEST(SidecarConfig, ParsesDurationsAndLists) {
  auto p = parseArgs(with({"--backoff", "1s,5s,1m", "--ack-wait", "30s", "--message-timeout", "2m",
                           "--drain-grace", "0s", "--mode", "report"}));
  ASSERT_TRUE(p.problems.empty()) << p.problems.front();
  EXPECT_EQ(*p.config.backoff, (std::vector<milliseconds>{1s, 5s, 60s}));
  EXPECT_EQ(*p.config.ackWait, 30s);
  EXPECT_EQ(p.config.messageTimeout, 120s);
  EXPECT_EQ(p.config.drainGrace, 0s);
  EXPECT_EQ(p.config.mode, Mode::kReport);
}

std::string thirtyThreeDelays() {
  std::string list = "1s";
  for (int i = 0; i < 32; ++i)
    list += ",1s";
  return list;
}

TEST(SidecarConfig, EveryBadValueIsRejectedWithItsFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string mention;
  };
  std::vector<Case> cases = {
      {{"--mode", "fast"}, "--mode"},
      {{"--app-port", "0"}, "--app-port"},
      {{"--app-port", "70000"}, "--app-port"},
      {{"--app-path", "work"}, "--app-path"},
      {{"--concurrency", "0"}, "--concurrency"},
      {{"--max-batch", "0"}, "--max-batch"},
      {{"--message-timeout", "soon"}, "--message-timeout"},
      {{"--message-timeout", "1ms"}, "--message-timeout"},
      {{"--ack-wait", "10"}, "--ack-wait"},
      {{"--backoff", "1s,,2s"}, "--backoff"},
      {{"--backoff", "1s,x"}, "--backoff"},
      {{"--report-interval", "1ms"}, "--report-interval"},
      {{"--drain-grace", "1x"}, "--drain-grace"},
      {{"--listen", "nowhere"}, "--listen"},
      {{"--listen", "1.2.3.4:99999"}, "--listen"},
      {{"--dead-letter-subject", "dead.>"}, "--dead-letter-subject"},
      {{"--stream", "A.B"}, "--stream"},
      {{"--consumer", "a b"}, "--consumer"},
      {{"--channel", "or.ders"}, "channel"},
      {{"--report-subject-prefix", "x.*"}, "prefix"},
      {{"--nats-url", ""}, "URL"},
      // Hostile input (issue 16, items 5 and 18): accepted at start, overflowing later.
      {{"--message-timeout", "2562047.9h"}, "--message-timeout"},
      {{"--message-timeout", "25h"}, "--message-timeout"},
      {{"--drain-grace", "2562047h"}, "--drain-grace"},
      {{"--drain-grace", "2h"}, "--drain-grace"},
      {{"--report-interval", "2562047h"}, "--report-interval"},
      {{"--report-interval", "2m"}, "--report-interval"},
      {{"--ack-wait", "2562047.9h"}, "--ack-wait"},
      {{"--backoff", "1s,2562047.9h"}, "--backoff"},
      {{"--app-path", "/x y\r\nHost: evil"}, "--app-path"},
      {{"--stream", "A\"B"}, "--stream"},
      {{"--dead-letter-subject", "dead\",\"x"}, "--dead-letter-subject"},
      // Upper bounds (docs/bad-input.md).
      {{"--concurrency", "10001"}, "--concurrency"},
      {{"--max-batch", "10001"}, "--max-batch"},
      {{"--backoff", thirtyThreeDelays()}, "at most 32 delays"},
      // The local endpoint has no authentication: loopback only.
      {{"--local-listen", "0.0.0.0:9092"}, "not a loopback address"},
      {{"--local-listen", ":9092"}, "not a loopback address"},
      {{"--local-listen", "10.1.2.3:9092"}, "not a loopback address"},
      {{"--local-listen", "128.0.0.1:9092"}, "not a loopback address"},
      {{"--local-listen", "127.0.0.1"}, "--local-listen"},
      {{"--local-listen", "127.0.0.1:70000"}, "--local-listen"},
      {{"--max-result-bytes", "1023"}, "--max-result-bytes"},
      {{"--max-result-bytes", "67108865"}, "--max-result-bytes"},
  };
  for (const auto& c : cases) {
    auto p = parseArgs(with(c.args));
    ASSERT_TRUE(p.parsed) << c.args[0];
    EXPECT_TRUE(mentions(p.problems, c.mention))
        << c.args[0] << " " << c.args[1] << ": "
        << (p.problems.empty() ? "accepted" : p.problems.front());
  }
}

}  // namespace
}  // namespace osmosis::sidecar
