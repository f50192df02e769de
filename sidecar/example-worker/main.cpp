// osmosis-example-worker: the kind of worker users write behind the sidecar. It is a plain
// HTTP handler: the sidecar POSTs each message to it on localhost and acks when it answers
// 2xx. Used by the demo and by the tests on the real cluster (hack/cluster.sh).
//
// It "works" for --work-ms per message, logs one JSON line per message (at debug level), and
// with --record appends {"ev":"done", "id", "seq", "delivery", "pod", "t"} per message and
// {"ev":"stopped", "pod", "processed", "signal"} on a clean exit to a JSON-lines file (the
// tests read it; "id" is the body's id=<text> word).
//
// SIGTERM: with the sidecar as a native sidecar, Kubernetes stops the app first and the
// sidecar only after the app has exited. So the app keeps answering until it has been idle
// for --drain-idle (messages the sidecar already holds still get processed), then exits.

#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <iostream>
#include <string>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/cli/parse.hpp"
#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/process/shutdown.hpp"
#include "common/util/duration.hpp"

namespace {

using namespace std::chrono;

std::string idWord(const std::string& body) {
  size_t pos = body.rfind("id=", 0) == 0 ? 0 : body.find(" id=");
  if (pos == std::string::npos) return "";
  if (body[pos] == ' ') ++pos;
  size_t start = pos + 3;
  size_t end = body.find(' ', start);
  return body.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

int64_t nowMs() {
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto& shutdown = osmosis::ShutdownSignal::install();
  CLI::App app{"Osmosis example worker: an HTTP handler behind the sidecar",
               "osmosis-example-worker"};
  std::string logLevel = "info";
  std::string listen = "0.0.0.0:8080";
  int workMs = 10;
  std::string record;
  std::string drainIdle = "2s";
  std::string drainMax = "25s";
  osmosis::cli::addCommonFlags(app, &logLevel);
  app.add_option("--listen", listen, "host:port to serve on")
      ->envname("WORKER_LISTEN")
      ->capture_default_str();
  app.add_option("--work-ms", workMs, "time each message takes")
      ->envname("WORKER_WORK_MS")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  app.add_option("--record", record, "append one JSON line per processed message to this file")
      ->envname("WORKER_RECORD");
  app.add_option("--drain-idle", drainIdle, "on SIGTERM, exit after this long without a message")
      ->envname("WORKER_DRAIN_IDLE")
      ->capture_default_str();
  app.add_option("--drain-max", drainMax, "on SIGTERM, exit after this long at the latest")
      ->envname("WORKER_DRAIN_MAX")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto idle = osmosis::parseDuration(drainIdle);
  auto maxDrain = osmosis::parseDuration(drainMax);
  auto addr = osmosis::http::parseListenAddress(listen);
  if (!idle || !maxDrain || !addr) {
    std::cerr << "osmosis-example-worker: bad --listen, --drain-idle or --drain-max\n";
    return osmosis::cli::kExitUsage;
  }
  int fd = -1;
  if (!record.empty()) {
    fd = ::open(record.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::cerr << "osmosis-example-worker: cannot open " << record << "\n";
      return 1;
    }
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::string pod = host;

  std::atomic<int> inFlight{0};
  std::atomic<int64_t> lastActivityMs{nowMs()};
  std::atomic<int64_t> processed{0};
  auto recordLine = [fd](const nlohmann::json& line) {
    if (fd < 0) return;
    std::string text = line.dump() + "\n";
    (void)!::write(fd, text.data(), text.size());  // one O_APPEND write per line
  };
  auto handler = [&](const osmosis::http::Request& req) -> osmosis::http::Response {
    if (req.method == "GET" && req.path() == "/healthz") return {200, "text/plain", "ok\n", {}};
    if (req.method != "POST") return {405, "text/plain", "POST a message\n", {}};
    ++inFlight;
    lastActivityMs = nowMs();
    if (workMs > 0) std::this_thread::sleep_for(milliseconds(workMs));
    nlohmann::json line = {{"ev", "done"},
                           {"id", idWord(req.body)},
                           {"seq", req.header("Osmosis-Message-Id")},
                           {"delivery", req.header("Osmosis-Delivery-Count")},
                           {"pod", pod},
                           {"t", nowMs()}};
    recordLine(line);
    osmosis::log::debug("processed", line);
    ++processed;
    lastActivityMs = nowMs();
    --inFlight;
    return {200, "text/plain", "ok\n", {}};
  };
  auto server = osmosis::http::Server::start(addr->first, addr->second, handler);
  if (!server.ok()) {
    osmosis::log::error("cannot listen", {{"listen", listen}, {"error", server.error().message}});
    return 1;
  }
  osmosis::log::info("listening", {{"listen", listen}, {"work_ms", workMs}});
  shutdown.wait();

  // Keep answering what the sidecar still delivers; exit once idle for --drain-idle counted
  // from the signal (the sidecar may be between two deliveries), or at --drain-max.
  auto started = steady_clock::now();
  lastActivityMs = nowMs();
  osmosis::log::info("draining", {{"in_flight", inFlight.load()}});
  while (steady_clock::now() - started < maxDrain.value()) {
    if (inFlight == 0 && nowMs() - lastActivityMs >= duration_cast<milliseconds>(*idle).count())
      break;
    std::this_thread::sleep_for(100ms);
  }
  server.value()->stop();
  nlohmann::json stopped = {{"ev", "stopped"},
                            {"pod", pod},
                            {"processed", processed.load()},
                            {"signal", shutdown.signal()},
                            {"t", nowMs()}};
  recordLine(stopped);
  if (fd >= 0) ::close(fd);
  osmosis::log::info("stopped", stopped);
  return 0;
}
