// Sidecar benchmark: one run, side by side on the same stream and the same machine:
//   1. throughput: a plain JetStream pull consumer (fetch 64, ack per message) vs osmosis-sidecar
//      delivering to a no-op HTTP app (ack per message after its 200); for reference also the
//      plain consumer on a send-asap connection, and the HTTP hop alone (the sidecar's own
//      client keeping `concurrency` requests in flight to the same app, no NATS);
//   2. sidecar RSS under load (peak) and idle (after the load, connected and ready);
//   3. added latency per message: one message at a time, the time until the app has it vs the
//      time until a raw consumer waiting in fetch has it (p50, p99).
// Throughput is measured in rounds (default 5) that alternate them (fresh subject, consumers
// and sidecar each round): the machine's other load changes over time. Rates are medians; the
// ratio is the median of the per-round ratios.
// Usage: osmosis_sidecar_bench <sidecar binary> <results file> [messages] [concurrency] [rounds]

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sstream>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include <nats/nats.h>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
#include "sidecar/dispatch/http_client.hpp"
#include "tests/fixtures/child_process.hpp"
#include "tests/fixtures/nats_server.hpp"

using namespace osmosis;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

long rssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::cerr << what << ": " << r.error().message << "\n";
    std::exit(1);
  }
  return std::move(r.value());
}

void check(Status s, const char* what) {
  if (!s.ok()) {
    std::cerr << what << ": " << s.error().message << "\n";
    std::exit(1);
  }
}

// The no-op worker app, as cheap as an app gets so that it is not what is measured: one
// thread, epoll, keep-alive, every request read (Content-Length bodies) and answered 200 with
// no body. (The first app, on common/http/server with a thread per connection, spent more CPU
// on the two cores than the sidecar did.) `onRequest` sees each request's head, on the app
// thread.
class NoopApp {
 public:
  using OnRequest = std::function<void(std::string_view head)>;
  explicit NoopApp(OnRequest onRequest) : onRequest_(std::move(onRequest)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_, 128) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::cerr << "app: cannot listen\n";
      std::exit(1);
    }
    port_ = ntohs(addr.sin_port);
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    stopFd_ = ::eventfd(0, EFD_CLOEXEC);
    add(listen_);
    add(stopFd_);
    thread_ = std::thread([this] { run(); });
  }
  ~NoopApp() {
    uint64_t one = 1;
    (void)!::write(stopFd_, &one, sizeof one);
    thread_.join();
    for (auto& [fd, buf] : conns_)
      ::close(fd);
    ::close(listen_);
    ::close(stopFd_);
    ::close(epoll_);
  }
  int port() const { return port_; }

 private:
  void add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }
  void run() {
    static constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    epoll_event events[64];
    char chunk[64 * 1024];
    for (;;) {
      int n = ::epoll_wait(epoll_, events, 64, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == stopFd_) return;
        if (fd == listen_) {
          int c;
          while ((c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
            int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            conns_[c];
            add(c);
          }
          continue;
        }
        ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
        if (got < 0 && errno == EAGAIN) continue;
        if (got <= 0) {
          ::close(fd);
          conns_.erase(fd);
          continue;
        }
        std::string& buf = conns_[fd];
        buf.append(chunk, static_cast<size_t>(got));
        std::string out;
        size_t pos = 0;
        for (;;) {
          size_t headEnd = buf.find("\r\n\r\n", pos);
          if (headEnd == std::string::npos) break;
          std::string_view head(buf.data() + pos, headEnd - pos);
          size_t length = 0;
          if (size_t cl = head.find("Content-Length: "); cl != std::string_view::npos)
            std::from_chars(head.data() + cl + 16, head.data() + head.size(), length);
          if (buf.size() < headEnd + 4 + length) break;
          onRequest_(head);
          out += kOk;
          pos = headEnd + 4 + length;
        }
        buf.erase(0, pos);
        if (!out.empty()) (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      }
    }
  }
  OnRequest onRequest_;
  int listen_ = -1;
  int epoll_ = -1;
  int stopFd_ = -1;
  int port_ = 0;
  std::unordered_map<int, std::string> conns_;
  std::thread thread_;
};

std::string_view headerIn(std::string_view head, std::string_view name) {
  size_t at = head.find(name);
  if (at == std::string_view::npos) return {};
  size_t start = at + name.size();
  size_t end = head.find("\r\n", start);
  return head.substr(start, end == std::string_view::npos ? end : end - start);
}

// A plain pull consumer: fetch 64, ack each (from the first message to the last ack flushed).
double pullAndAck(nats::JetStream& js, const std::string& consumer, int total) {
  auto sub = must(js.pullSubscribe("BENCH", consumer), "raw subscribe");
  int got = 0;
  Clock::time_point first{};
  while (got < total) {
    auto msgs = must(sub.fetch(64, 2000ms), "raw fetch");
    if (msgs.empty()) break;
    if (got == 0) first = Clock::now();
    for (auto& m : msgs) {
      check(m.ack(), "raw ack");
      ++got;
    }
  }
  check(js.connection()->flush(5s), "flush");
  return got / std::chrono::duration<double>(Clock::now() - first).count();
}

// The HTTP hop alone, no NATS: the sidecar's own client keeping `concurrency` requests (the
// sidecar's request for a bench message) in flight to the app. No sidecar can deliver faster.
double httpOnlyRate(int port, int concurrency, int total, const std::string& payload) {
  sidecar::AppClient client(port, concurrency);
  for (int slot = 0; slot < concurrency; ++slot) {
    sidecar::RequestBuilder req(client.request(slot));
    req.begin("/", port, payload.size());
    req.header("Osmosis-Message-Id", std::to_string(1000000 + slot));
    req.header("Osmosis-Subject", "bench.http.load");
    req.header("Osmosis-Delivery-Count", "1");
    req.header("Osmosis-Channel", "bench");
    req.header("Osmosis-Namespace", "bench");
    req.header("Content-Type", "application/octet-stream");
    req.end(payload);
  }
  std::vector<sidecar::AppClient::Done> done;
  int started = 0, finished = 0;
  const auto first = Clock::now();
  for (int slot = 0; slot < concurrency && started < total; ++slot, ++started)
    client.start(slot, &done);
  while (finished < total) {
    if (done.empty()) client.wait(1000ms, &done);
    std::vector<sidecar::AppClient::Done> batch;
    batch.swap(done);
    for (auto& d : batch) {
      if (d.result.status != 200) {
        std::cerr << "http-only: " << d.result.detail << "\n";
        std::exit(1);
      }
      ++finished;
      if (started < total) {
        ++started;
        client.start(d.slot, &done);
      }
    }
  }
  return total / std::chrono::duration<double>(Clock::now() - first).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0]
              << " <sidecar binary> <results file> [messages] [concurrency] [rounds]\n";
    return 2;
  }
  const std::string sidecarBin = argv[1];
  const std::string resultsPath = argv[2];
  const int total = argc > 3 ? std::atoi(argv[3]) : 20000;
  const int concurrency = argc > 4 ? std::atoi(argv[4]) : 32;
  const int rounds = argc > 5 ? std::max(1, std::atoi(argv[5])) : 5;

  testing::NatsServer server;
  check(server.start(), "starting nats-server");
  nats::ConnectionOptions co;
  co.urls = {server.url()};
  auto conn = must(nats::Connection::connect(co), "connect");
  auto js = must(nats::JetStream::create(conn), "jetstream");
  nats::StreamConfig sc;
  sc.name = "BENCH";
  sc.subjects = {"bench.>"};
  sc.retention = nats::Retention::kLimits;  // two consumers read the same messages
  must(js.addStream(sc), "stream");
  const std::string payload(256, 'x');

  // The no-op app, in this process.
  std::mutex mu;
  std::unordered_map<uint64_t, Clock::time_point> arrivals;  // for the latency phase
  std::atomic<int> requests{0};
  std::atomic<int64_t> firstNs{0}, lastNs{0};
  auto app = std::make_unique<NoopApp>([&](std::string_view head) {
    auto now = Clock::now();
    int64_t ns = now.time_since_epoch().count();
    int64_t zero = 0;
    firstNs.compare_exchange_strong(zero, ns);
    lastNs = ns;
    ++requests;
    auto subject = headerIn(head, "\r\nOsmosis-Subject: ");
    if (subject.size() >= 8 && subject.substr(subject.size() - 8) == ".latency") {
      uint64_t id = 0;
      auto v = headerIn(head, "\r\nOsmosis-Message-Id: ");
      std::from_chars(v.data(), v.data() + v.size(), id);
      std::lock_guard lock(mu);
      arrivals[id] = now;
    }
  });
  auto dir = testing::makeTempDir("osmosis-bench");
  auto spawnSidecar = [&](const std::string& consumer) {
    testing::ChildProcess::Options po;
    po.argv = {sidecarBin,
               "--nats-url",
               server.url(),
               "--channel",
               "bench",
               "--namespace",
               "bench",
               "--pod",
               "bench-0",
               "--stream",
               "BENCH",
               "--consumer",
               consumer,
               "--app-port",
               std::to_string(app->port()),
               "--listen",
               "127.0.0.1:0",
               "--concurrency",
               std::to_string(concurrency),
               "--log-level",
               "warn"};
    po.stdoutPath = dir + "/sidecar.log";
    po.stderrPath = dir + "/sidecar.err";
    return must(testing::ChildProcess::spawn(po), "sidecar");
  };

  // 1. Throughput, in rounds that alternate the two (the machine's other load changes over
  // time; medians are reported). Round r has its own subject and consumers.
  std::vector<double> rawRates, rawAsapRates, sideRates, httpRates;
  nats::ConnectionOptions asapOptions = co;
  asapOptions.sendAsap = true;
  auto asapConn = must(nats::Connection::connect(asapOptions), "connect (send-asap)");
  auto asapJs = must(nats::JetStream::create(asapConn), "jetstream (send-asap)");
  long peakRss = 0;
  std::optional<testing::ChildProcess> sidecar;
  std::string lastRound;
  for (int r = 0; r < rounds; ++r) {
    const std::string round = "r" + std::to_string(r);
    if (sidecar) {  // the previous round's
      sidecar->signal(SIGTERM);
      (void)sidecar->waitFor(30s);
      sidecar.reset();
    }
    for (const std::string name : {"raw-", "rawasap-", "side-"}) {
      nats::ConsumerConfig cc;
      cc.durable = name + round;
      cc.filterSubject = "bench." + round + ".>";
      cc.maxAckPending = 10000;
      must(js.addOrUpdateConsumer("BENCH", cc), "consumer");
    }
    for (int i = 0; i < total; ++i)
      must(js.publish("bench." + round + ".load", payload), "publish");

    // 1a. A plain pull consumer: fetch 64, ack each; libnats' defaults (the target's
    // baseline), and for reference the same on a connection with send-asap (its pull requests
    // are not held by libnats' flusher, nor are its acks).
    rawRates.push_back(pullAndAck(js, "raw-" + round, total));
    rawAsapRates.push_back(pullAndAck(asapJs, "rawasap-" + round, total));

    // 1b. The sidecar (a fresh one; from the app's first request to its last).
    requests = 0;
    firstNs = 0;
    lastNs = 0;
    sidecar.emplace(spawnSidecar("side-" + round));
    auto deadline = Clock::now() + 300s;
    while (requests.load() < total && Clock::now() < deadline) {
      peakRss = std::max(peakRss, rssKb(sidecar->pid()));
      std::this_thread::sleep_for(20ms);
    }
    if (requests.load() < total) {
      std::cerr << "sidecar delivered only " << requests.load() << " of " << total << "\n"
                << testing::readFile(dir + "/sidecar.log");
      return 1;
    }
    sideRates.push_back(total / (static_cast<double>(lastNs - firstNs) / 1e9));
    lastRound = round;

    // 1c. The HTTP hop alone (the sidecar idle meanwhile, waiting in its pull).
    httpRates.push_back(httpOnlyRate(app->port(), concurrency, total, payload));
  }
  // 2. Idle: connected, ready, nothing to do (the last round's sidecar, after its load).
  std::this_thread::sleep_for(3s);
  const long idleRss = rssKb(sidecar->pid());

  // 3. Added latency: one message at a time; both consumers wait for it.
  std::vector<double> rawLat, sideLat, added;
  {
    const std::string subject = "bench." + lastRound + ".latency";
    nats::ConsumerConfig cc;
    cc.durable = "raw-latency";
    cc.filterSubject = subject;
    must(js.addOrUpdateConsumer("BENCH", cc), "consumer");
    auto sub = must(js.pullSubscribe("BENCH", "raw-latency"), "raw subscribe");
    const int samples = 300;
    for (int i = 0; i < samples; ++i) {
      std::atomic<bool> rawDone{false};
      Clock::time_point rawAt{};
      Clock::time_point sent{};
      std::thread t([&] {
        auto msgs = sub.fetch(1, 5000ms);
        rawAt = Clock::now();
        if (msgs.ok())
          for (auto& m : msgs.value())
            (void)m.ack();
        rawDone = true;
      });
      std::this_thread::sleep_for(5ms);  // let the raw fetch be waiting, as the sidecar is
      sent = Clock::now();
      uint64_t seq = must(js.publish(subject, payload), "publish");
      Clock::time_point sideAt{};
      auto until = Clock::now() + 5s;
      while (Clock::now() < until) {
        {
          std::lock_guard lock(mu);
          auto it = arrivals.find(seq);
          if (it != arrivals.end()) {
            sideAt = it->second;
            break;
          }
        }
        std::this_thread::sleep_for(200us);
      }
      t.join();
      if (sideAt == Clock::time_point{} || !rawDone) continue;
      double rl = std::chrono::duration<double, std::milli>(rawAt - sent).count();
      double sl = std::chrono::duration<double, std::milli>(sideAt - sent).count();
      rawLat.push_back(rl);
      sideLat.push_back(sl);
      added.push_back(sl - rl);
    }
  }
  sidecar->signal(SIGTERM);
  auto exit = sidecar->waitFor(30s);
  app.reset();

  const double rawRate = percentile(rawRates, 0.5);
  const double sideRate = percentile(sideRates, 0.5);
  std::ostringstream out;
  char line[256];
  out << "osmosis-sidecar benchmark (" << total << " messages of " << payload.size()
      << " B per round, " << rounds << " rounds, sidecar concurrency " << concurrency
      << ", nats-server " << server.binary() << ", " << std::thread::hardware_concurrency()
      << " cores)\n";
  out << "per round, msgs/s (raw / raw send-asap / sidecar / HTTP hop alone):";
  for (size_t i = 0; i < rawRates.size(); ++i) {
    std::snprintf(line, sizeof line, " %.0f / %.0f / %.0f / %.0f%s", rawRates[i], rawAsapRates[i],
                  sideRates[i], httpRates[i], i + 1 < rawRates.size() ? ";" : "\n");
    out << line;
  }
  std::snprintf(line, sizeof line,
                "raw JetStream pull consumer, ack per message:  %10.0f msgs/s (median)\n", rawRate);
  out << line;
  std::snprintf(line, sizeof line,
                "sidecar -> no-op HTTP app, ack per message:   %10.0f msgs/s (median)\n", sideRate);
  out << line;
  std::vector<double> ratios;
  for (size_t i = 0; i < rawRates.size(); ++i)
    ratios.push_back(sideRates[i] / rawRates[i]);
  std::snprintf(line, sizeof line,
                "ratio sidecar/raw: %.2f (target >= 0.70; median of the per-round ratios, each "
                "pair measured back to back; ratio of the medians above: %.2f)\n",
                percentile(ratios, 0.5), sideRate / rawRate);
  out << line;
  const double rawAsapRate = percentile(rawAsapRates, 0.5);
  std::snprintf(line, sizeof line,
                "raw pull consumer with send-asap, for reference: %.0f msgs/s (median); "
                "sidecar/that: %.2f\n",
                rawAsapRate, sideRate / rawAsapRate);
  out << line;
  const double httpRate = percentile(httpRates, 0.5);
  std::snprintf(line, sizeof line,
                "HTTP hop alone (the sidecar's client -> app, no NATS): %.0f msgs/s (median); "
                "sidecar/that: %.2f, raw/that: %.2f\n",
                httpRate, sideRate / httpRate, rawRate / httpRate);
  out << line;
  std::snprintf(line, sizeof line,
                "sidecar RSS: idle %.1f MB, peak under load %.1f MB (target <= 16 MB)\n",
                static_cast<double>(idleRss) / 1024, static_cast<double>(peakRss) / 1024);
  out << line;
  std::snprintf(line, sizeof line,
                "latency publish->consumer (ms, %zu samples): raw p50 %.2f p99 %.2f; "
                "sidecar->app p50 %.2f p99 %.2f\n",
                rawLat.size(), percentile(rawLat, 0.5), percentile(rawLat, 0.99),
                percentile(sideLat, 0.5), percentile(sideLat, 0.99));
  out << line;
  std::snprintf(line, sizeof line, "added latency per message (ms): p50 %.2f p99 %.2f\n",
                percentile(added, 0.5), percentile(added, 0.99));
  out << line;
  out << "sidecar exit on SIGTERM: " << (exit ? std::to_string(exit->code) : "timeout") << "\n";
  std::cout << out.str();
  std::ofstream(resultsPath) << out.str();
  std::filesystem::remove_all(dir);
  nats_Close();
  return 0;
}
