// Sidecar benchmark: one run, side by side on the same stream and the same machine:
//   1. throughput: a plain JetStream pull consumer (fetch, ack per message) vs osmosis-sidecar
//      delivering to a no-op HTTP app (ack per message after its 200);
//   2. sidecar RSS under load (peak) and idle (after the load, connected and ready);
//   3. added latency per message: one message at a time, the time until the app has it vs the
//      time until a raw consumer waiting in fetch has it (p50, p99).
// Usage: osmosis_sidecar_bench <sidecar binary> <results file> [messages] [concurrency]

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include <nats/nats.h>

#include "common/http/server.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/jetstream.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0]
              << " <sidecar binary> <results file> [messages] [concurrency]\n";
    return 2;
  }
  const std::string sidecarBin = argv[1];
  const std::string resultsPath = argv[2];
  const int total = argc > 3 ? std::atoi(argv[3]) : 20000;
  const int concurrency = argc > 4 ? std::atoi(argv[4]) : 32;

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
  for (const char* name : {"raw", "side"}) {
    nats::ConsumerConfig cc;
    cc.durable = name;
    cc.maxAckPending = 10000;
    must(js.addOrUpdateConsumer("BENCH", cc), "consumer");
  }
  const std::string payload(256, 'x');
  for (int i = 0; i < total; ++i)
    must(js.publish("bench.load", payload), "publish");

  // 1a. Raw pull consumer.
  double rawRate = 0;
  {
    auto sub = must(js.pullSubscribe("BENCH", "raw"), "raw subscribe");
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
    check(conn->flush(5s), "flush");
    rawRate = got / std::chrono::duration<double>(Clock::now() - first).count();
  }

  // 1b. The sidecar, to a no-op app in this process.
  std::mutex mu;
  std::unordered_map<uint64_t, Clock::time_point> arrivals;  // for the latency phase
  std::atomic<int> requests{0};
  std::atomic<int64_t> firstNs{0}, lastNs{0};
  auto app = must(http::Server::start("127.0.0.1", 0,
                                      [&](const http::Request& r) {
                                        auto now = Clock::now();
                                        int64_t ns = now.time_since_epoch().count();
                                        int64_t zero = 0;
                                        firstNs.compare_exchange_strong(zero, ns);
                                        lastNs = ns;
                                        ++requests;
                                        if (r.header("Osmosis-Subject") == "bench.latency") {
                                          std::lock_guard lock(mu);
                                          arrivals[std::stoull(r.header("Osmosis-Message-Id"))] =
                                              now;
                                        }
                                        return http::Response{200, "text/plain", "", {}};
                                      }),
                  "app");
  auto dir = testing::makeTempDir("osmosis-bench");
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
             "side",
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
  auto sidecar = must(testing::ChildProcess::spawn(po), "sidecar");
  long peakRss = 0;
  auto deadline = Clock::now() + 300s;
  while (requests.load() < total && Clock::now() < deadline) {
    peakRss = std::max(peakRss, rssKb(sidecar.pid()));
    std::this_thread::sleep_for(20ms);
  }
  if (requests.load() < total) {
    std::cerr << "sidecar delivered only " << requests.load() << " of " << total << "\n"
              << testing::readFile(po.stdoutPath);
    return 1;
  }
  const double sideSecs = static_cast<double>(lastNs - firstNs) / 1e9;
  const double sideRate = total / sideSecs;
  // Idle: connected, ready, nothing to do.
  std::this_thread::sleep_for(3s);
  const long idleRss = rssKb(sidecar.pid());

  // 3. Added latency: one message at a time; both consumers wait for it.
  std::vector<double> rawLat, sideLat, added;
  {
    auto sub = must(js.pullSubscribe("BENCH", "raw"), "raw subscribe");
    const int rounds = 300;
    for (int i = 0; i < rounds; ++i) {
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
      uint64_t seq = must(js.publish("bench.latency", payload), "publish");
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
      double r = std::chrono::duration<double, std::milli>(rawAt - sent).count();
      double s = std::chrono::duration<double, std::milli>(sideAt - sent).count();
      rawLat.push_back(r);
      sideLat.push_back(s);
      added.push_back(s - r);
    }
  }
  sidecar.signal(SIGTERM);
  auto exit = sidecar.waitFor(30s);
  app->stop();

  std::ostringstream out;
  char line[256];
  out << "osmosis-sidecar benchmark (" << total << " messages of " << payload.size()
      << " B, sidecar concurrency " << concurrency << ", nats-server " << server.binary() << ", "
      << std::thread::hardware_concurrency() << " cores)\n";
  std::snprintf(line, sizeof line, "raw JetStream pull consumer, ack per message: %10.0f msgs/s\n",
                rawRate);
  out << line;
  std::snprintf(line, sizeof line, "sidecar -> no-op HTTP app, ack per message:  %10.0f msgs/s\n",
                sideRate);
  out << line;
  std::snprintf(line, sizeof line, "ratio sidecar/raw: %.2f (target >= 0.50)\n",
                sideRate / rawRate);
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
