// The two binaries as a user meets them: flags, exit codes, JSON logs, signals.

#include <arpa/inet.h>
#include <csignal>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

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

// By the file name: the build path may contain "operator" too (a worktree's, for example).
bool isOperator(const std::string& path) {
  return path.substr(path.rfind('/') + 1) == "osmosis-operator";
}

class BinaryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { dir_ = testing::makeTempDir("osmosis-bin"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // What each binary needs to start. The operator: an API server config (this one points
  // nowhere; it retries, logs and still stops cleanly). The sidecar: its channel and consumer
  // (NATS at the default URL is not there; it retries and still stops cleanly).
  std::vector<std::string> requiredArgs() {
    if (!isOperator(GetParam())) {
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

int tasks(pid_t pid) {
  int n = 0;
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d))
    n += e->d_name[0] != '.' ? 1 : 0;
  ::closedir(d);
  return n;
}

long rssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int connectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` (as much as the server takes within a second) and reads the answer until
// the server closes or 5 s pass.
std::string roundTrip(int port, const std::string& request) {
  const int fd = connectTo(port);
  if (fd < 0) return "";
  std::string_view rest = request;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (!rest.empty() && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) break;
    if (n > 0) rest.remove_prefix(static_cast<size_t>(n));
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[8192];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// The health port the binary logged ("serving /healthz ..."); 0 if not within 20 s.
int healthPortIn(const std::function<std::string()>& out) {
  int port = 0;
  testing::eventually(
      [&] {
        std::istringstream lines(out());
        std::string line;
        while (std::getline(lines, line)) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (j.is_discarded() || j.value("msg", "").rfind("serving /healthz", 0) != 0) continue;
          const std::string address = j.value("address", "");
          port = std::stoi(address.substr(address.rfind(':') + 1));
        }
        return port > 0;
      },
      20s);
  return port;
}

// Issue 16 item 10, on the binaries as deployed: 3,000 idle connections to the health port
// (the old server: a thread each) and 64 MB bodies to /metrics (the old server buffered them)
// add no thread and little memory, and /healthz keeps answering.
TEST_P(BinaryTest, HealthServerHoldsUnderAConnectionFloodAndHugeBodies) {
  auto child = start({"--log-level", "info"});
  const int port = healthPortIn([&] { return out(); });
  ASSERT_GT(port, 0) << out();
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(roundTrip(port, get).rfind("HTTP/1.1 200", 0), 0u);
  // Threads the binary starts by itself (client pools, retries) are counted first: wait until
  // the count holds for a second.
  int before = tasks(child.pid());
  for (int same = 0; same < 4;) {
    std::this_thread::sleep_for(250ms);
    const int now = tasks(child.pid());
    same = now == before ? same + 1 : 0;
    before = now;
  }
  const long rssBefore = rssKb(child.pid());

  std::vector<int> fds;
  for (int i = 0; i < 3000; ++i) {
    const int fd = connectTo(port);
    ASSERT_GE(fd, 0) << i;
    fds.push_back(fd);
  }
  EXPECT_TRUE(
      testing::eventually([&] { return roundTrip(port, get).rfind("HTTP/1.1 200", 0) == 0; }, 10s));
  EXPECT_LE(tasks(child.pid()), before) << "threads grew with connections";
  for (int fd : fds)
    ::close(fd);

  const std::string huge = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n" +
                           std::string(1 << 20, 'x');
  for (int i = 0; i < 6; ++i) {
    const std::string answer = roundTrip(port, huge);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  }
  // (Both binaries are built with AddressSanitizer here, whose quarantine keeps what the
  // flood's connections used; the old server grew by hundreds of MB.)
  const long grownKb = rssKb(child.pid()) - rssBefore;
  EXPECT_LT(grownKb, 48 * 1024) << "RSS grew by " << grownKb << " kB";
  EXPECT_EQ(roundTrip(port, get).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_TRUE(child.running());
  child.signal(SIGTERM);
  auto status = child.waitFor(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0);
}

// Both health servers answer only GET and HEAD, and only on their three paths.
TEST_P(BinaryTest, HealthServerRefusesOtherMethodsAndPaths) {
  auto child = start({"--log-level", "info"});
  const int port = healthPortIn([&] { return out(); });
  ASSERT_GT(port, 0) << out();
  auto ask = [&](const std::string& method, const std::string& path) {
    return roundTrip(port, method + " " + path +
                               " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
                               "close\r\n\r\n");
  };
  EXPECT_EQ(ask("GET", "/healthz").rfind("HTTP/1.1 200", 0), 0u);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    const std::string answer = ask(method, "/healthz");
    EXPECT_EQ(answer.rfind("HTTP/1.1 405", 0), 0u) << method << ": " << answer;
    EXPECT_NE(answer.find("use GET"), std::string::npos) << answer;
  }
  const std::string missing = ask("GET", "/nope");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404", 0), 0u) << missing;
  EXPECT_NE(missing.find("not found"), std::string::npos) << missing;
  child.signal(SIGTERM);
  auto status = child.waitFor(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0);
}

INSTANTIATE_TEST_SUITE_P(Binaries, BinaryTest,
                         ::testing::Values(OSMOSIS_OPERATOR_BIN, OSMOSIS_SIDECAR_BIN),
                         [](const auto& param) {
                           return isOperator(param.param) ? "operator" : "sidecar";
                         });

}  // namespace
}  // namespace osmosis
