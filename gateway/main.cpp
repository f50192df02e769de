// osmosis-gateway: clients POST messages into Channels and get each request's events and
// result pushed back (SSE, WebSocket, or Prefer: wait). Stateless: run as many as needed.
// See docs/gateway.md.

#include <iostream>
#include <optional>
#include <sys/resource.h>

#include "common/cli/parse.hpp"
#include "common/http/server.hpp"
#include "common/log/logger.hpp"
#include "common/metrics/registry.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/library.hpp"
#include "common/process/shutdown.hpp"
#include "common/util/backoff.hpp"
#include "common/util/redact.hpp"
#include "common/version.hpp"
#include "gateway/bus/nats_bus.hpp"
#include "gateway/channels/kube_channels.hpp"
#include "gateway/config.hpp"
#include "gateway/events/results_hub.hpp"
#include "gateway/server/gateway.hpp"
#include "operator/kube/client/cpprest_transport.hpp"
#include "operator/kube/config/rest_config.hpp"

namespace {

using namespace osmosis;
using namespace osmosis::gateway;

int usage(const std::string& problem) {
  std::cerr << "osmosis-gateway: " << problem << "\nRun 'osmosis-gateway --help' for usage.\n";
  return cli::kExitUsage;
}

// Connects until it works, logging each failure; nullopt when shutdown was asked meanwhile.
template <typename Connect>
auto connectUntilShutdown(const std::string& what, ShutdownSignal& shutdown, Connect connect)
    -> std::optional<std::decay_t<decltype(connect().value())>> {
  for (int attempt = 0;; ++attempt) {
    auto c = connect();
    if (c) return std::move(c.value());
    const auto wait =
        jitteredBackoff(attempt, std::chrono::milliseconds(200), std::chrono::seconds(10));
    log::warn("cannot connect " + what + "; retrying",
              {{"error", c.error().message}, {"retryInMs", static_cast<int64_t>(wait.count())}});
    if (shutdown.waitFor(wait)) return std::nullopt;
  }
}

// Every open event stream is a descriptor: take what the hard limit allows.
void raiseFileLimit() {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) != 0 || l.rlim_cur >= l.rlim_max) return;
  l.rlim_cur = l.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &l) != 0)
    log::warn("cannot raise the open-file limit", {{"limit", static_cast<int64_t>(l.rlim_max)}});
}

}  // namespace

int main(int argc, char** argv) {
  auto& shutdown = ShutdownSignal::install();
  CLI::App app{"Osmosis gateway: POST into Channels, results pushed back", "osmosis-gateway"};
  RawFlags raw;
  Config config;
  cli::addCommonFlags(app, &raw.logLevel);
  addFlags(app, &raw, &config.nats);
  if (auto code = cli::parse(app, argc, argv, std::cout, std::cerr)) return *code;
  if (auto code = cli::applyLogLevel(raw.logLevel, std::cerr)) return *code;
  if (auto problems = finish(raw, &config); !problems.empty()) {
    for (size_t i = 0; i + 1 < problems.size(); ++i)
      std::cerr << "osmosis-gateway: " << problems[i] << "\n";
    return usage(problems.back());
  }
  config.nats.name = "osmosis-gateway";
  // Each POST waits for its own acknowledgement: a publish written at once beats one batched
  // by libnats' flusher thread a moment later (bench: 22,200 -> 24,600 POST/s).
  config.nats.sendAsap = true;
  auto rest = kube::restConfigFor(config.kubeconfig, config.context);
  if (!rest) return usage(rest.error().message);
  auto signer = RequestSigner::create(config.signingKey);
  if (!signer) return usage(signer.error().message);
  raiseFileLimit();

  std::vector<std::string> urls;
  for (const auto& u : config.nats.urls)
    urls.push_back(redactUrl(u));
  log::info("starting", {{"version", kVersion},
                         {"component", "gateway"},
                         {"listen", raw.listen},
                         {"healthListen", raw.healthListen},
                         {"natsUrls", urls},
                         {"watchNamespaces", config.watchNamespaces}});

  metrics::Registry registry;
  kube::TransportOptions transportOptions;
  transportOptions.userAgent = std::string("osmosis-gateway/") + kVersion;
  kube::Client client(kube::makeCpprestTransport(rest.value(), transportOptions));
  KubeChannels channels(client, config.watchNamespaces);
  channels.start();

  std::shared_ptr<nats::Connection> conn;
  std::unique_ptr<NatsBus> bus;
  std::unique_ptr<ResultsHub> hub;
  std::unique_ptr<Gateway> gw;
  std::atomic<bool> serving{false};

  auto health = http::Server::start(
      config.healthHost, config.healthPort, [&](const http::Request& req) -> http::Response {
        if (req.method != "GET" && req.method != "HEAD")
          return {405, "text/plain", "use GET\n", {{"Allow", "GET, HEAD"}}};
        const std::string path = req.path();
        if (path == "/healthz") return {200, "text/plain", "ok\n", {}};
        if (path == "/readyz") {
          std::string why;
          if (!serving.load())
            why = "starting";
          else if (!channels.ready())
            why = "Channels not listed yet";
          else if (!bus->connected())  // (set before `serving`; kept until health stops)
            why = "NATS not connected";
          if (why.empty()) return {200, "text/plain", "ready\n", {}};
          return {503, "text/plain", "not ready: " + why + "\n", {}};
        }
        if (path == "/metrics")
          return {200, "text/plain; version=0.0.4; charset=utf-8", registry.render(), {}};
        return {404, "text/plain", "not found\n", {}};
      });
  if (!health) {
    log::error("cannot serve /healthz /readyz /metrics", {{"error", health.error().message}});
    return 1;
  }

  auto connected = connectUntilShutdown("to NATS", shutdown,
                                        [&] { return nats::Connection::connect(config.nats); });
  if (!connected) {
    nats::closeLibrary();
    return 0;
  }
  conn = *connected;  // (read by /readyz only through `bus`, once `serving`)
  log::info("connected to NATS", {{"url", conn->connectedUrl()}});
  // The API server first: its threads also run the publishing connection, so a POST is
  // answered on the thread that read its acknowledgement (docs/gateway.md, benchmark). Until
  // the gateway is built (a moment), a request is told to come back.
  std::atomic<Gateway*> handler{nullptr};
  http::ServerOptions options;
  options.threads = config.threads;
  options.maxConnections = config.maxConnections;
  options.maxBodyBytes = config.maxBodyBytes;
  auto api = http::Server::startAsync(
      config.listenHost, config.listenPort,
      [&](http::Request&& req, http::Responder r) {
        if (Gateway* g = handler.load()) return g->handle(std::move(req), std::move(r));
        r.respond({503,
                   "application/json",
                   "{\"error\":\"the gateway is starting; retry after a second\"}\n",
                   {{"Retry-After", "1"}}});
      },
      options);
  if (!api) {
    log::error("cannot serve the API", {{"error", api.error().message}});
    return 1;
  }
  auto publisher = connectUntilShutdown("the publishing connection to NATS", shutdown, [&] {
    return nats::LoopPublisher::connect(config.nats, api.value()->context());
  });
  if (!publisher) {
    api.value()->stop();
    health.value()->stop();
    conn.reset();
    nats::closeLibrary();
    return 0;
  }
  auto made = NatsBus::create(conn, std::move(*publisher));
  if (!made) {
    log::error("cannot use JetStream", {{"error", made.error().message}});
    return 1;
  }
  bus = std::move(made.value());
  hub = std::make_unique<ResultsHub>(*bus);
  gw = std::make_unique<Gateway>(config.gateway, channels, channels, *bus, *hub,
                                 std::move(signer.value()), registry);
  handler = gw.get();
  serving = true;
  log::info("serving", {{"port", api.value()->port()}, {"healthPort", health.value()->port()}});

  shutdown.wait();
  log::info("shutdown requested", {{"signal", shutdown.signal()},
                                   {"openStreams", static_cast<int64_t>(gw->openStreams())}});
  serving = false;
  bus->closePublisher();  // (its connection runs on the API server's threads, which end next)
  api.value()->stop();    // (closes every stream)
  health.value()->stop();
  handler = nullptr;
  gw.reset();
  hub.reset();
  bus.reset();
  conn.reset();
  log::info("stopped", {{"component", "gateway"}});
  nats::closeLibrary();
  return 0;
}
