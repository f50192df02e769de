// osmosis-sidecar: pulls a Channel's messages and hands them to the worker app over HTTP
// (dispatch mode), or only reports the consumer's backlog (report mode). See docs/sidecar.md.

#include <cstdlib>
#include <iostream>
#include <string>

#include <nats/nats.h>

#include "common/cli/parse.hpp"
#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/library.hpp"
#include "common/process/shutdown.hpp"
#include "common/util/redact.hpp"
#include "common/version.hpp"
#include "sidecar/config.hpp"
#include "sidecar/dispatch/dispatcher.hpp"
#include "sidecar/report/reporter.hpp"
#include "sidecar/results/local_endpoint.hpp"
#include "sidecar/results/publisher.hpp"
#include "sidecar/state.hpp"

namespace {

using namespace osmosis;
using namespace osmosis::sidecar;

std::string getEnv(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

http::Response health(const http::Request& req, const Config& config, State& state,
                      const std::shared_ptr<nats::Connection>* conn) {
  const std::string path = req.path();
  if (req.method != "GET" && req.method != "HEAD") return {405, "text/plain", "use GET\n", {}};
  if (path == "/healthz") {
    // Alive unless a loop is stuck: NATS or the app being away is not a reason to restart.
    auto stuck = state.wedged(std::chrono::seconds(60));
    if (!stuck.empty()) return {503, "text/plain", "wedged: " + stuck + " loop\n", {}};
    return {200, "text/plain", "ok\n", {}};
  }
  if (path == "/readyz") {
    bool connected = *conn && (*conn)->connected();
    const bool ready = state.ready(connected, config.mode == Mode::kDispatch);
    state.readyGauge.set(ready ? 1 : 0);
    if (ready) return {200, "text/plain", "ready\n", {}};
    std::string why = !connected ? "NATS not connected" : state.error();
    if (why.empty()) why = "starting";
    return {503, "text/plain", "not ready: " + why + "\n", {}};
  }
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", state.registry.render(), {}};
  }
  return {404, "text/plain", "not found\n", {}};
}

// Connects to NATS, retrying with jittered backoff until it works or shutdown is asked.
std::shared_ptr<nats::Connection> connectWithRetry(const Config& config, State& state,
                                                   ShutdownSignal& shutdown) {
  for (int attempt = 0;; ++attempt) {
    auto conn = nats::Connection::connect(config.nats);
    if (conn.ok()) {
      log::info("connected to NATS", {{"url", conn.value()->connectedUrl()}});
      return conn.value();
    }
    state.pullErrors.inc();
    state.setError(conn.error().message);
    auto wait = jitteredBackoff(attempt, std::chrono::milliseconds(200), std::chrono::seconds(10));
    log::warn("cannot connect to NATS; retrying",
              {{"error", conn.error().message}, {"retryInMs", wait.count()}});
    if (conn.error().code == Error::Code::kInvalidArgument) {
      // Bad files or options will not fix themselves, but a mounted secret may appear late.
      wait = std::max(wait, std::chrono::milliseconds(2000));
    }
    if (shutdown.waitFor(wait)) return nullptr;
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto& shutdown = ShutdownSignal::install();

  CLI::App app{"Osmosis sidecar: pulls a channel's messages and delivers them to the worker app",
               "osmosis-sidecar"};
  Config config;
  RawFlags raw;
  cli::addCommonFlags(app, &raw.logLevel);
  addFlags(app, &config, &raw);
  if (auto code = cli::parse(app, argc, argv, std::cout, std::cerr)) return *code;
  if (auto code = cli::applyLogLevel(raw.logLevel, std::cerr)) return *code;
  config.nats.name = "osmosis-sidecar";
  if (auto problems = finish(raw, &config, &getEnv); !problems.empty()) {
    for (const auto& p : problems)
      std::cerr << "osmosis-sidecar: " << p << "\n";
    std::cerr << "Run 'osmosis-sidecar --help' for usage.\n";
    return cli::kExitUsage;
  }
  if (config.nats.name.empty()) config.nats.name = "osmosis-sidecar";
  config.nats.name = "osmosis-sidecar/" + config.ns + "/" + config.pod;

  std::vector<std::string> redactedUrls;
  for (const auto& u : config.nats.urls)
    redactedUrls.push_back(redactUrl(u));
  log::info("starting", {{"version", kVersion},
                         {"component", "sidecar"},
                         {"mode", modeName(config.mode)},
                         {"channel", config.channel},
                         {"namespace", config.ns},
                         {"pod", config.pod},
                         {"stream", config.stream},
                         {"consumer", config.consumer},
                         {"natsUrls", redactedUrls}});

  State state;
  std::shared_ptr<nats::Connection> conn;
  auto listen = http::parseListenAddress(config.listen);
  auto server = http::Server::start(listen->first, listen->second, [&](const http::Request& r) {
    return health(r, config, state, &conn);
  });
  if (!server.ok()) {
    log::error("cannot serve health and metrics", {{"error", server.error().message}});
    return 1;
  }
  log::info("serving /healthz /readyz /metrics",
            {{"address", listen->first + ":" + std::to_string(server.value()->port())}});

  auto connected = connectWithRetry(config, state, shutdown);
  if (!connected) {
    log::info("stopped", {{"component", "sidecar"}, {"note", "before NATS was reachable"}});
    server.value()->stop();
    nats::closeLibrary();
    return 0;
  }
  // The health handler reads `conn` from its threads: publish it once, fully built.
  std::atomic_store(&conn, connected);
  state.natsConnected = true;

  Reporter reporter(config, state, conn);
  reporter.start();
  // Results events and the worker's local endpoint, for Channels with the gateway enabled.
  std::optional<results::Publisher> publisher;
  std::unique_ptr<http::Server> local;
  if (config.results && config.mode == Mode::kDispatch) {
    publisher.emplace(config, state, conn);
    if (!config.localListen.empty()) {
      auto address = http::parseListenAddress(config.localListen);  // (checked by finish)
      results::LocalEndpointOptions options{config.ns, config.channel, config.maxResultBytes};
      http::ServerOptions serverOptions;
      serverOptions.maxBodyBytes = config.maxResultBytes;
      auto started = http::Server::start(
          address->first, address->second,
          [&publisher, options](const http::Request& r) {
            return results::handleLocal(r, options, *publisher);
          },
          serverOptions);
      if (!started.ok()) {
        log::error("cannot serve the local endpoint",
                   {{"address", config.localListen}, {"error", started.error().message}});
        reporter.stopWithFinalReport();
        server.value()->stop();
        return 1;
      }
      local = std::move(started.value());
      log::info("serving the local endpoint for the worker (progress, broadcast)",
                {{"address", address->first + ":" + std::to_string(local->port())}});
    }
  }
  std::optional<Dispatcher> dispatcher;
  if (config.mode == Mode::kDispatch) {
    dispatcher.emplace(config, state, conn, &reporter, publisher ? &*publisher : nullptr);
    dispatcher->start();
  }

  shutdown.wait();
  log::info("shutdown requested: draining", {{"signal", shutdown.signal()},
                                             {"graceMs", config.drainGrace.count()},
                                             {"inFlight", state.inFlight()}});
  int abandoned = dispatcher ? dispatcher->drain(config.drainGrace) : 0;
  reporter.stopWithFinalReport();
  log::info("stopped", {{"component", "sidecar"},
                        {"processed", state.processed()},
                        {"failed", state.failed()},
                        {"abandoned", abandoned}});
  dispatcher.reset();
  if (local) local->stop();
  local.reset();
  publisher.reset();
  server.value()->stop();
  conn.reset();
  connected.reset();
  nats::closeLibrary();
  return 0;
}
