// Gateway benchmark (not a test). Real kube-apiserver + etcd, real nats-server, the
// osmosis-operator, osmosis-gateway, osmosis-sidecar (--results) and osmosis-test-app binaries,
// all on 127.0.0.1:
//   1. throughput: POST -> 202 through the gateway from C keep-alive connections (a small
//      Boost.Beast client, one thread per connection, one request in flight each) against raw
//      JetStream publishing with the PubAck awaited from C clients (`nats bench js pub sync`, the
//      nats CLI), into the same stream, same body size, alternated in rounds; the ratio;
//   2. latency: POST -> final result event (the SSE stream's `result`) with a no-op worker (the
//      test app answering at once), p50/p99; the same with `Prefer: wait`; and the floor without
//      the gateway: a JetStream publish to the channel's subject with Osmosis-Request-Id, the
//      result read from the results subject. The difference is the part the gateway adds;
//   3. idle event streams: N concurrent SSE streams (one request each, no worker, so they stay
//      open): the gateway's RSS and CPU before, while opening and while idle (from /proc), and
//      /healthz and POST latency before and with the streams open.
//
//   osmosis_gateway_bench GATEWAY_BIN OPERATOR_BIN SIDECAR_BIN APP_BIN NATS_CLI RESULTS
//                         [CONNECTIONS=32] [MESSAGES=20000] [ROUNDS=2] [LATENCY_SAMPLES=300]
//                         [STREAMS=10000]

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/contract/gateway_contract.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
#include "common/nats/subscription.hpp"
#include "hack/bench/bench_common.hpp"
#include "tests/fixtures/child_process.hpp"
#include "tests/fixtures/control_plane.hpp"
#include "tests/fixtures/nats_server.hpp"

using namespace osmosis;
using namespace std::chrono;
using nlohmann::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

double ms(steady_clock::duration d) {
  return duration<double, std::milli>(d).count();
}

// One keep-alive HTTP/1.1 connection (synchronous), reconnecting when the server closed it.
class HttpClient {
 public:
  explicit HttpClient(int port) : port_(port) {}
  http::response<http::string_body> request(
      http::verb verb, const std::string& target, const std::string& body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    for (int attempt = 0;; ++attempt) {
      try {
        if (!stream_) connect();
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, "127.0.0.1");
        for (const auto& [k, v] : headers)
          req.set(k, v);
        if (verb == http::verb::post) {
          req.set(http::field::content_type, "text/plain");
          req.body() = body;
          req.prepare_payload();
        }
        http::write(*stream_, req);
        http::response<http::string_body> res;
        http::read(*stream_, buffer_, res);
        if (!res.keep_alive()) stream_.reset();
        return res;
      } catch (const std::exception&) {
        stream_.reset();
        buffer_.clear();
        if (attempt >= 1) throw;
      }
    }
  }

 private:
  void connect() {
    stream_ = std::make_unique<beast::tcp_stream>(io_);
    stream_->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    stream_->socket().set_option(tcp::no_delay(true));
  }
  int port_;
  asio::io_context io_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// Reads an SSE stream on a fresh connection until `event: <final>` (result or failed).
bool readEventsUntilFinal(int port, const std::string& target) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  s.set_option(tcp::no_delay(true));
  const timeval tenSeconds{10, 0};  // (a lost result ends the wait)
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tenSeconds, sizeof tenSeconds);
  const std::string req =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string got;
  char buf[4096];
  for (;;) {
    boost::system::error_code ec;
    size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) return false;
    got.append(buf, n);
    if (got.find("event: result\n") != std::string::npos ||
        got.find("event: failed\n") != std::string::npos)
      return true;
  }
}

std::string randomHex(std::mt19937_64& rng) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < contract::gateway::kRandomHexChars; ++i)
    out += digits[rng() % 16];
  return out;
}

struct Posted {
  std::string id, token;
};

// M POSTs from C connections; wall time, and how many were answered 202 (others counted by code).
struct LoadResult {
  double seconds = 0;
  long accepted = 0;
  std::map<int, long> others;
  std::vector<Posted> posted;  // when kept
};
LoadResult postLoad(int port, const std::string& target, const std::string& body, int messages,
                    int connections, bool keep) {
  LoadResult r;
  std::mutex mu;
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  const auto start = steady_clock::now();
  for (int c = 0; c < connections; ++c) {
    pool.emplace_back([&] {
      HttpClient client(port);
      long ok = 0;
      std::map<int, long> others;
      std::vector<Posted> mine;
      while (next++ < messages) {
        try {
          auto res = client.request(http::verb::post, target, body);
          if (res.result_int() == 202) {
            ++ok;
            if (keep) {
              auto j = json::parse(res.body(), nullptr, false);
              mine.push_back({j.value("id", ""), j.value("token", "")});
            }
          } else {
            ++others[res.result_int()];
          }
        } catch (const std::exception&) {
          ++others[0];
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      r.accepted += ok;
      for (auto [code, n] : others)
        r.others[code] += n;
      r.posted.insert(r.posted.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : pool)
    t.join();
  r.seconds = duration<double>(steady_clock::now() - start).count();
  return r;
}

std::string othersText(const std::map<int, long>& others) {
  std::string out;
  for (auto [code, n] : others)
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " x " +
           (code == 0 ? std::string("no answer") : std::to_string(code));
  return out.empty() ? "none" : out;
}

// The p50/p99/max line of a sample (ms).
std::string quantiles(const std::vector<double>& v) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%zu)",
                bench::percentile(v, 0.5), bench::percentile(v, 0.99),
                v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()), v.size());
  return buf;
}

// N SSE streams held open by one thread (asio): each counted open once its first bytes arrived
// (the answer's head and `retry:`), then drained (keep-alive comments) until closed.
class IdleStreams {
 public:
  IdleStreams(int port, std::vector<std::string> targets)
      : port_(port), targets_(std::move(targets)) {}
  ~IdleStreams() { stop(); }

  void start() {
    thread_ = std::thread([this] {
      for (int i = 0; i < kInFlight && next_ < targets_.size(); ++i)
        openNext();
      io_.run();
    });
  }
  size_t opened() const { return opened_; }
  size_t failed() const { return failed_; }
  size_t closedAfterOpen() const { return closedAfterOpen_; }
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      stopping_ = true;
      for (auto& c : conns_) {
        boost::system::error_code ec;
        c->socket.close(ec);
      }
      io_.stop();
    });
    thread_.join();
  }

 private:
  static constexpr int kInFlight = 200;  // connections being opened at once
  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::string request;
    std::array<char, 1024> buf{};
    bool open = false;
  };

  void openNext() {
    if (next_ >= targets_.size() || stopping_) return;
    auto c = std::make_shared<Conn>(io_);
    c->request = "GET " + targets_[next_++] +
                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    conns_.push_back(c);
    c->socket.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                            [this, c](boost::system::error_code ec) {
                              if (ec) return fail(c);
                              asio::async_write(c->socket, asio::buffer(c->request),
                                                [this, c](boost::system::error_code ec2, size_t) {
                                                  if (ec2) return fail(c);
                                                  read(c);
                                                });
                            });
  }
  void read(const std::shared_ptr<Conn>& c) {
    c->socket.async_read_some(
        asio::buffer(c->buf), [this, c](boost::system::error_code ec, size_t n) {
          if (ec) {
            if (c->open) {
              if (!stopping_) ++closedAfterOpen_;
            } else {
              fail(c);
            }
            return;
          }
          if (!c->open) {
            if (std::string_view(c->buf.data(), n).rfind("HTTP/1.1 200", 0) != 0) return fail(c);
            c->open = true;
            ++opened_;
            openNext();
          }
          read(c);
        });
  }
  void fail(const std::shared_ptr<Conn>& c) {
    ++failed_;
    boost::system::error_code ec;
    c->socket.close(ec);
    openNext();
  }

  int port_;
  std::vector<std::string> targets_;
  asio::io_context io_;
  std::thread thread_;
  std::vector<std::shared_ptr<Conn>> conns_;
  size_t next_ = 0;
  std::atomic<size_t> opened_{0}, failed_{0}, closedAfterOpen_{0};
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr,
                 "usage: %s GATEWAY_BIN OPERATOR_BIN SIDECAR_BIN APP_BIN NATS_CLI RESULTS "
                 "[CONNECTIONS] [MESSAGES] [ROUNDS] [LATENCY_SAMPLES] [STREAMS]\n",
                 argv[0]);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  const std::string gatewayBin = argv[1], operatorBin = argv[2], sidecarBin = argv[3],
                    appBin = argv[4], natsCli = argv[5], resultsFile = argv[6];
  const int connections = argc > 7 ? std::atoi(argv[7]) : 32;
  const int messages = argc > 8 ? std::atoi(argv[8]) : 20000;
  const int rounds = argc > 9 ? std::atoi(argv[9]) : 2;
  const int latencySamples = argc > 10 ? std::atoi(argv[10]) : 300;
  const int streams = argc > 11 ? std::atoi(argv[11]) : 10000;
  const std::string body(128, 'x');  // (nats bench's default size)

  bench::Report report;
  auto say = [&](const std::string& line) { report.say(line); };
  auto cp = bench::controlPlaneWithChannels();
  if (!cp) return 1;
  auto& plane = *cp;
  testing::NatsServer natsServer;
  if (!bench::startNats(natsServer)) return 1;
  const std::string ns = plane.createNamespace("bench");
  const std::string dir = testing::makeTempDir("osmosis-gwbench");
  auto kubectl = bench::kubectlIn(plane, ns);
  // "load": no worker, no backlog limit (throughput, idle streams); "orders": the no-op worker.
  auto applied = kubectl({"apply", "-f", "-"}, testing::placeholderWorker(1) + R"(---
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: load}
spec:
  gateway: {enabled: true, maxBacklog: 0}
---
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec:
  worker: {scaleTargetRef: {name: worker}}
  scaling: {minReplicas: 1, maxReplicas: 1}
  gateway: {enabled: true}
)");
  if (applied.code != 0) {
    std::fprintf(stderr, "kubectl apply: %s\n", applied.err.c_str());
    return 1;
  }
  auto op = testing::ChildProcess::spawn(
      {{operatorBin, "--kubeconfig", plane.kubeconfig(), "--leader-elect=false",
        "--watch-namespace", ns, "--nats-url", natsServer.url(), "--http-address", "127.0.0.1:0",
        "--log-level", "warn"},
       {},
       dir + "/op.out",
       dir + "/op.err"});
  if (!op) {
    std::fprintf(stderr, "cannot start the operator\n");
    return 1;
  }
  for (const char* ch : {"load", "orders"}) {
    auto ready =
        kubectl({"wait", "--for=condition=Ready", std::string("channel/") + ch, "--timeout=60s"});
    if (ready.code != 0) {
      std::fprintf(stderr, "channel %s not Ready: %s\n%s\n", ch, ready.err.c_str(),
                   testing::readFile(dir + "/op.out").c_str());
      return 1;
    }
  }
  // The results streams come with Ready? Wait for them by name below (the gateway's POSTs).

  // The worker: the test app answering at once, behind the sidecar with --results.
  const int appPort = testing::freePort();
  auto app = testing::ChildProcess::spawn(
      {{appBin, "--port", std::to_string(appPort)}, {}, dir + "/app.out", dir + "/app.err"});
  if (!app || !testing::eventually(
                  [&] {
                    return testing::readFile(dir + "/app.out").find("listening") !=
                           std::string::npos;
                  },
                  10s)) {
    std::fprintf(stderr, "the test app did not start\n");
    return 1;
  }
  std::string ordersStream = ns + "_ORDERS";
  std::transform(ordersStream.begin(), ordersStream.end(), ordersStream.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const int sidecarHealth = testing::freePort();
  const int localPort = testing::freePort();
  auto sidecar = testing::ChildProcess::spawn({{sidecarBin,
                                                "--nats-url",
                                                natsServer.url(),
                                                "--channel",
                                                "orders",
                                                "--namespace",
                                                ns,
                                                "--pod",
                                                "worker-0",
                                                "--stream",
                                                ordersStream,
                                                "--consumer",
                                                "workers",
                                                "--app-port",
                                                std::to_string(appPort),
                                                "--listen",
                                                "127.0.0.1:" + std::to_string(sidecarHealth),
                                                "--results",
                                                "--local-listen",
                                                "127.0.0.1:" + std::to_string(localPort),
                                                "--log-level",
                                                "warn"},
                                               {},
                                               dir + "/sc.out",
                                               dir + "/sc.err"});
  // The gateway.
  const std::string keyFile = dir + "/signing-key";
  std::ofstream(keyFile) << "0123456789abcdef0123456789abcdef-bench-key";
  const int port = testing::freePort();
  int healthPort = testing::freePort();
  while (healthPort == port)
    healthPort = testing::freePort();
  std::vector<std::string> gatewayArgs = {gatewayBin,
                                          "--kubeconfig",
                                          plane.kubeconfig(),
                                          "--watch-namespace",
                                          ns,
                                          "--nats-url",
                                          natsServer.url(),
                                          "--listen",
                                          "127.0.0.1:" + std::to_string(port),
                                          "--health-listen",
                                          "127.0.0.1:" + std::to_string(healthPort),
                                          "--signing-key-file",
                                          keyFile,
                                          "--max-streams-per-client",
                                          std::to_string(std::max(streams + 100, 16)),
                                          "--max-connections",
                                          std::to_string(std::max(2 * streams + 1000, 16)),
                                          "--log-level",
                                          "warn"};
  // More gateway flags for a run (e.g. "--workers 64"), space-separated.
  std::string extraArgs;
  if (const char* e = std::getenv("OSMOSIS_BENCH_GATEWAY_ARGS")) {
    std::istringstream words(e);
    for (std::string w; words >> w;) {
      gatewayArgs.push_back(w);
      extraArgs += " " + w;
    }
  }
  auto gateway = testing::ChildProcess::spawn({gatewayArgs, {}, dir + "/gw.out", dir + "/gw.err"});
  if (!sidecar || !gateway) {
    std::fprintf(stderr, "cannot start the sidecar or the gateway\n");
    return 1;
  }
  auto healthz = [&](const std::string& path) {
    try {
      HttpClient c(healthPort);
      return c.request(http::verb::get, path).result_int();
    } catch (const std::exception&) {
      return 0u;
    }
  };
  if (!testing::eventually([&] { return healthz("/readyz") == 200; }, 60s, 100ms)) {
    std::fprintf(stderr, "the gateway is not ready\n%s%s\n",
                 testing::readFile(dir + "/gw.out").c_str(),
                 testing::readFile(dir + "/gw.err").c_str());
    return 1;
  }
  const pid_t gwPid = gateway.value().pid();
  const std::string loadTarget = "/v1/namespaces/" + ns + "/channels/load/messages";
  const std::string ordersTarget = "/v1/namespaces/" + ns + "/channels/orders/messages";
  // One POST to learn the load channel's stream and check the path works.
  std::string loadStream;
  {
    HttpClient c(port);
    http::response<http::string_body> res;
    testing::eventually(
        [&] {
          res = c.request(http::verb::post, loadTarget, body);
          return res.result_int() == 202;
        },
        30s, 200ms);
    if (res.result_int() != 202) {
      std::fprintf(stderr, "POST: %u %s\n", res.result_int(), res.body().c_str());
      return 1;
    }
    loadStream = json::parse(res.body()).value("stream", "");
  }
  const std::string loadSubject = ns + ".load.gateway";  // (the gateway's publish subject)

  say("# osmosis-gateway benchmark, " + std::to_string(std::thread::hardware_concurrency()) +
      " cores; nats-server " + natsServer.binary() + "; gateway flags beyond the defaults (" +
      "--threads 1 --workers 16):" + (extraArgs.empty() ? std::string(" none") : extraArgs) +
      "; everything on 127.0.0.1");
  say("");
  say("## 1. POST -> 202 vs raw JetStream publish (PubAck awaited), " +
      std::to_string(connections) + " connections, " + std::to_string(messages) + " messages of " +
      std::to_string(body.size()) + " bytes per side and round, stream " + loadStream);
  std::vector<double> gwRates, rawRates;
  std::regex statsLine(R"(aggregated stats: ([0-9][0-9,]*) msgs/sec)");
  for (int round = 1; round <= rounds; ++round) {
    // raw: nats bench js pub sync, C clients, same stream (the channel's), same subject
    const auto rawStart = steady_clock::now();
    const double natsCpu0 = bench::usageOf(natsServer.pid()).cpuSeconds;
    auto raw = testing::runCommand(
        {natsCli, "--server", natsServer.url(), "bench", "js", "pub", "sync", loadSubject,
         "--stream", loadStream, "--clients", std::to_string(connections), "--msgs",
         std::to_string(messages), "--size", "128B", "--no-progress"},
        {}, "", 300s);
    const double rawWall = duration<double>(steady_clock::now() - rawStart).count();
    const double rawNatsCpu = bench::usageOf(natsServer.pid()).cpuSeconds - natsCpu0;
    std::smatch m;
    double rawRate = 0;
    const std::string rawOut = raw.out + raw.err;
    // Its aggregate line: "... aggregated stats: 23,008 msgs/sec ~ 2.8 MiB/sec".
    if (raw.code == 0 && std::regex_search(rawOut, m, statsLine)) {
      std::string digits = m[1];
      digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
      rawRate = std::stod(digits);
    } else {
      std::fprintf(stderr, "nats bench failed (%d):\n%s\n", raw.code, rawOut.c_str());
      return 1;
    }
    // gateway: the same count through POST
    const auto gwCpu0 = bench::usageOf(gwPid).cpuSeconds,
               selfCpu0 = bench::usageOf(getpid()).cpuSeconds,
               gwNatsCpu0 = bench::usageOf(natsServer.pid()).cpuSeconds;
    auto gw = postLoad(port, loadTarget, body, messages, connections, false);
    const double gwCpu = bench::usageOf(gwPid).cpuSeconds - gwCpu0,
                 selfCpu = bench::usageOf(getpid()).cpuSeconds - selfCpu0,
                 gwNatsCpu = bench::usageOf(natsServer.pid()).cpuSeconds - gwNatsCpu0;
    const double gwRate = static_cast<double>(gw.accepted) / gw.seconds;
    rawRates.push_back(rawRate);
    gwRates.push_back(gwRate);
    char buf[640];
    std::snprintf(buf, sizeof buf,
                  "round %d: raw %.0f msgs/s (nats bench; %.1f s with connecting; nats-server CPU "
                  "%.2f s) | gateway %.0f 202/s (%ld in %.2f s; other answers: %s; CPU: gateway "
                  "%.2f s, the HTTP client %.2f s, nats-server %.2f s) | ratio %.2f",
                  round, rawRate, rawWall, rawNatsCpu, gwRate, gw.accepted, gw.seconds,
                  othersText(gw.others).c_str(), gwCpu, selfCpu, gwNatsCpu, gwRate / rawRate);
    say(buf);
  }
  {
    double g = 0, r = 0;
    for (size_t i = 0; i < gwRates.size(); ++i) {
      g += gwRates[i];
      r += rawRates[i];
    }
    char buf[256];
    std::snprintf(
        buf, sizeof buf, "mean: raw %.0f msgs/s, gateway %.0f 202/s, ratio %.2f (target >= 0.5)",
        r / static_cast<double>(rawRates.size()), g / static_cast<double>(gwRates.size()), g / r);
    say(buf);
  }
  const auto afterLoad = bench::usageOf(gwPid);

  // 2. Latency with the no-op worker, one request at a time.
  say("");
  say("## 2. POST -> final result event, no-op worker (test app answering at once), one at a "
      "time, " +
      std::to_string(latencySamples) + " samples each");
  std::vector<double> viaSse, viaWait, post202, direct;
  {
    HttpClient c(port);
    // warm-up (the sidecar sees the app answering; first connections)
    if (!testing::eventually(
            [&] {
              return c.request(http::verb::post, ordersTarget, "answer=warm",
                               {{"Prefer", "wait=2"}})
                         .result_int() == 200;
            },
            30s, 10ms)) {
      std::fprintf(stderr, "the worker answers nothing\n%s%s\n",
                   testing::readFile(dir + "/sc.out").c_str(),
                   testing::readFile(dir + "/sc.err").c_str());
      return 1;
    }
    for (int i = 0; i < 20; ++i)
      c.request(http::verb::post, ordersTarget, "answer=warm", {{"Prefer", "wait=10"}});
    int failures = 0;
    for (int i = 0; i < latencySamples; ++i) {
      const auto t0 = steady_clock::now();
      auto res = c.request(http::verb::post, ordersTarget, "answer=x");
      const auto t1 = steady_clock::now();
      if (res.result_int() != 202) {
        ++failures;
        continue;
      }
      auto j = json::parse(res.body(), nullptr, false);
      const std::string id = j.value("id", ""), token = j.value("token", "");
      if (!readEventsUntilFinal(port, "/v1/requests/" + id + "/events?token=" + token)) {
        ++failures;
        continue;
      }
      post202.push_back(ms(t1 - t0));
      viaSse.push_back(ms(steady_clock::now() - t0));
    }
    for (int i = 0; i < latencySamples; ++i) {
      const auto t0 = steady_clock::now();
      auto res = c.request(http::verb::post, ordersTarget, "answer=x", {{"Prefer", "wait=10"}});
      if (res.result_int() != 200) {
        ++failures;
        continue;
      }
      viaWait.push_back(ms(steady_clock::now() - t0));
    }
    if (failures) say("failures: " + std::to_string(failures));
  }
  {
    // The floor: publish with the request id header straight to the channel's subject; the
    // result read from the results subject (a core subscription on what the stream captures).
    nats::ConnectionOptions opts;
    opts.urls = {natsServer.url()};
    opts.sendAsap = true;
    auto conn = nats::Connection::connect(opts);
    auto js = conn ? nats::JetStream::create(conn.value()) : Result<nats::JetStream>(conn.error());
    if (!js) {
      std::fprintf(stderr, "nats: %s\n", js.error().message.c_str());
      return 1;
    }
    std::mutex mu;
    std::condition_variable cv;
    std::string waitingFor;
    bool arrived = false;
    auto sub = nats::Subscription::subscribe(
        conn.value(), contract::gateway::resultsStreamSubject(ns, "orders"),
        [&](std::string_view subject, std::string_view data) {
          auto j = json::parse(data, nullptr, false);
          if (!j.is_object() || !contract::gateway::isFinalEvent(j.value("type", ""))) return;
          std::lock_guard<std::mutex> lock(mu);
          if (subject == contract::gateway::resultsSubject(waitingFor)) {
            arrived = true;
            cv.notify_all();
          }
        });
    if (!sub) {
      std::fprintf(stderr, "subscribe: %s\n", sub.error().message.c_str());
      return 1;
    }
    std::mt19937_64 rng(42);
    const std::string subject = ns + ".orders.gateway";
    for (int i = 0; i < latencySamples + 20; ++i) {
      const std::string id = contract::gateway::formatRequestId(ns, "orders", randomHex(rng));
      {
        std::lock_guard<std::mutex> lock(mu);
        waitingFor = id;
        arrived = false;
      }
      const auto t0 = steady_clock::now();
      auto pub =
          js.value().publish(subject, "answer=x", id, {{contract::gateway::kHeaderRequestId, id}});
      if (!pub) continue;
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, 10s, [&] { return arrived; })) continue;
      if (i >= 20) direct.push_back(ms(steady_clock::now() - t0));  // (20 warm-up)
    }
  }
  say("POST -> 202 (stored):                        " + quantiles(post202));
  say("POST -> SSE `result` (202, then GET events):  " + quantiles(viaSse));
  say("POST with Prefer: wait=10 -> 200 result:      " + quantiles(viaWait));
  say("no gateway: JetStream publish -> result msg:  " + quantiles(direct));
  {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "the gateway adds: p50 %.2f ms (SSE) / %.2f ms (Prefer: wait), p99 %.2f ms / "
                  "%.2f ms",
                  bench::percentile(viaSse, 0.5) - bench::percentile(direct, 0.5),
                  bench::percentile(viaWait, 0.5) - bench::percentile(direct, 0.5),
                  bench::percentile(viaSse, 0.99) - bench::percentile(direct, 0.99),
                  bench::percentile(viaWait, 0.99) - bench::percentile(direct, 0.99));
    say(buf);
  }

  // 3. Idle event streams.
  say("");
  say("## 3. " + std::to_string(streams) +
      " concurrent idle event streams (SSE, one request each on the channel without a worker; "
      "keep-alive comment every 15 s, the default)");
  auto probe = [&](int n, auto fn) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) {
      const auto t0 = steady_clock::now();
      if (fn()) v.push_back(ms(steady_clock::now() - t0));
      std::this_thread::sleep_for(20ms);
    }
    return v;
  };
  auto healthProbe = [&] { return healthz("/healthz") == 200; };
  HttpClient probeClient(port);
  auto postProbe = [&] {
    try {
      return probeClient.request(http::verb::post, loadTarget, body).result_int() == 202;
    } catch (const std::exception&) {
      return false;
    }
  };
  auto posted = postLoad(port, loadTarget, body, streams, connections, true);
  if (posted.posted.size() != static_cast<size_t>(streams)) {
    say("only " + std::to_string(posted.posted.size()) +
        " requests accepted: " + othersText(posted.others));
  }
  std::this_thread::sleep_for(2s);
  auto usage = [&](const char* when, const bench::Usage& u) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-34s RSS %7.1f MB (peak %7.1f MB), CPU %7.2f s", when, u.rssMb,
                  u.peakRssMb, u.cpuSeconds);
    say(buf);
  };
  usage("gateway after the POST runs:", afterLoad);
  const auto before = bench::usageOf(gwPid);
  usage("before the streams:", before);
  const auto healthBefore = probe(20, healthProbe);
  const auto postBefore = probe(20, postProbe);
  say("/healthz before:  " + quantiles(healthBefore));
  say("POST -> 202 before: " + quantiles(postBefore));
  std::vector<std::string> targets;
  for (const auto& p : posted.posted)
    targets.push_back("/v1/requests/" + p.id + "/events?token=" + p.token);
  IdleStreams idle(port, targets);
  const auto openStart = steady_clock::now();
  idle.start();
  testing::eventually([&] { return idle.opened() + idle.failed() >= targets.size(); }, 120s, 50ms);
  const double openSeconds = duration<double>(steady_clock::now() - openStart).count();
  const auto opened = bench::usageOf(gwPid);
  {
    char buf[256];
    std::snprintf(buf, sizeof buf, "opened %zu streams in %.1f s (%zu refused or failed)",
                  idle.opened(), openSeconds, idle.failed());
    say(buf);
  }
  usage("all open:", opened);
  const double holdSeconds = 20;  // (each stream gets its keep-alive comment, 15 s apart)
  std::this_thread::sleep_for(duration<double>(holdSeconds));
  const auto held = bench::usageOf(gwPid);
  usage("after 20 s idle with them open:", held);
  const auto healthDuring = probe(20, healthProbe);
  const auto postDuring = probe(20, postProbe);
  say("/healthz with the streams open:  " + quantiles(healthDuring));
  say("POST -> 202 with the streams open: " + quantiles(postDuring));
  {
    char buf[512];
    // (after the idle time: each stream's history lookup may still be running when it opens)
    const double perStreamKb = (held.rssMb - before.rssMb) * 1024.0 /
                               static_cast<double>(std::max<size_t>(idle.opened(), 1));
    std::snprintf(buf, sizeof buf,
                  "per stream: %.1f KB RSS; CPU opening them %.2f s; CPU while idle %.1f%% of a "
                  "core; streams closed by the gateway while idle: %zu",
                  perStreamKb, opened.cpuSeconds - before.cpuSeconds,
                  100.0 * (held.cpuSeconds - opened.cpuSeconds) / holdSeconds,
                  idle.closedAfterOpen());
    say(buf);
  }
  idle.stop();
  std::this_thread::sleep_for(3s);
  usage("3 s after closing them:", bench::usageOf(gwPid));
  {
    // Again, the same streams: RSS that keeps growing would be a leak, not the allocator's cache.
    IdleStreams again(port, targets);
    again.start();
    testing::eventually([&] { return again.opened() + again.failed() >= targets.size(); }, 120s,
                        50ms);
    std::this_thread::sleep_for(2s);
    say("opened them again: " + std::to_string(again.opened()) + " (" +
        std::to_string(again.failed()) + " refused or failed)");
    usage("all open again:", bench::usageOf(gwPid));
    again.stop();
    std::this_thread::sleep_for(3s);
    usage("3 s after closing them again:", bench::usageOf(gwPid));
  }
  {
    // What the gateway counts as open now (its /metrics): 0 unless it leaks streams.
    std::string metrics;
    try {
      HttpClient c(healthPort);
      metrics = c.request(http::verb::get, "/metrics").body();
    } catch (const std::exception&) {
    }
    std::istringstream lines(metrics);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("osmosis_gateway_open_streams", 0) == 0) say("gateway /metrics: " + line);
  }
  if (!gateway.value().running()) say("THE GATEWAY EXITED");
  report.write(resultsFile);
  for (auto* p : {&gateway.value(), &sidecar.value(), &app.value(), &op.value()}) {
    p->signal(SIGTERM);
    if (!p->waitFor(10s)) p->kill();
  }
  std::filesystem::remove_all(dir);  // (kept when the benchmark fails: its processes' logs)
  return 0;
}
