#include "gateway/config.hpp"

#include <fstream>
#include <regex>
#include <sstream>

#include <CLI/CLI.hpp>

#include "common/http/server.hpp"
#include "common/util/duration.hpp"
#include "common/util/json_text.hpp"
#include "gateway/auth/request_token.hpp"

namespace osmosis::gateway {
namespace {

template <typename D>
void duration(const std::string& flag, const std::string& text, std::chrono::milliseconds lo,
              std::chrono::milliseconds hi, D* out, std::vector<std::string>& problems) {
  auto d = parseDurationWithin(text, lo, hi);
  if (!d) {
    problems.push_back(flag + " \"" + printableText(text) + "\": " + d.error().message);
    return;
  }
  *out = std::chrono::duration_cast<D>(d.value());
}

}  // namespace

void addFlags(CLI::App& app, RawFlags* f, nats::ConnectionOptions* natsOptions) {
  app.add_option("--listen", f->listen, "host:port of the public API")
      ->envname("OSMOSIS_GATEWAY_LISTEN")
      ->capture_default_str();
  app.add_option("--health-listen", f->healthListen, "host:port of /healthz, /readyz, /metrics")
      ->envname("OSMOSIS_GATEWAY_HEALTH_LISTEN")
      ->capture_default_str();
  app.add_option("--kubeconfig", f->kubeconfig,
                 "kubeconfig file(s), colon-separated (default: in-cluster config)")
      ->envname("KUBECONFIG");
  app.add_option("--context", f->context, "kubeconfig context (default: its current-context)");
  app.add_option("--watch-namespace", f->watchNamespaces,
                 "only serve Channels in this namespace; repeat for several (default: all)")
      ->allow_extra_args(false)
      ->take_all();
  nats::addFlags(app, natsOptions, &f->natsUrls);
  app.add_option("--signing-key-file", f->signingKeyFile,
                 "file holding the key (>= 32 bytes) that signs request tokens; every replica "
                 "must share it (required)")
      ->envname("OSMOSIS_GATEWAY_SIGNING_KEY_FILE");
  app.add_option("--max-body-bytes", f->maxBodyBytes, "largest message a POST may carry")
      ->check(CLI::Range(int64_t{1}, int64_t{64} * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--max-wait", f->maxWait, "the longest Prefer: wait honoured (0s..60s)")
      ->capture_default_str();
  app.add_option("--max-streams-per-client", f->maxStreamsPerClient,
                 "event streams one client address may hold open")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-connections", f->maxConnections, "open connections at most")
      ->check(CLI::Range(int64_t{16}, int64_t{1000000}))
      ->capture_default_str();
  app.add_option("--keepalive", f->keepalive, "SSE keep-alive comment interval (1s..5m)")
      ->capture_default_str();
  app.add_option("--stream-idle-timeout", f->streamIdleTimeout,
                 "close an event stream after this long without an event (10s..24h)")
      ->capture_default_str();
  app.add_option("--threads", f->threads,
                 "HTTP threads; they also run the publishing NATS connection")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--workers", f->workers, "threads that publish and read NATS for requests")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
}

std::vector<std::string> finish(const RawFlags& raw, Config* c) {
  std::vector<std::string> problems;
  if (auto l = http::parseListenAddress(raw.listen)) {
    c->listenHost = l.value().first;
    c->listenPort = l.value().second;
  } else {
    problems.push_back("--listen: " + l.error().message);
  }
  if (auto l = http::parseListenAddress(raw.healthListen)) {
    c->healthHost = l.value().first;
    c->healthPort = l.value().second;
  } else {
    problems.push_back("--health-listen: " + l.error().message);
  }
  c->kubeconfig = raw.kubeconfig;
  c->context = raw.context;
  static const std::regex kNamespace("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  for (const auto& ns : raw.watchNamespaces) {
    if (!std::regex_match(ns, kNamespace))
      problems.push_back("--watch-namespace \"" + printableText(ns) +
                         "\": not a namespace name (one DNS label per flag)");
    else
      c->watchNamespaces.push_back(ns);
  }
  c->nats.urls = nats::splitUrls(raw.natsUrls);
  for (auto& p : nats::validate(c->nats))
    problems.push_back(p);
  for (auto& p : nats::unreadableFiles(c->nats))
    problems.push_back(p);
  if (raw.signingKeyFile.empty()) {
    problems.push_back("--signing-key-file is required (a file of at least 32 random bytes)");
  } else {
    std::ifstream in(raw.signingKeyFile, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      problems.push_back("--signing-key-file \"" + printableText(raw.signingKeyFile) +
                         "\": cannot be read");
    } else {
      c->signingKey = ss.str();
      while (!c->signingKey.empty() &&
             (c->signingKey.back() == '\n' || c->signingKey.back() == '\r'))
        c->signingKey.pop_back();
      if (c->signingKey.size() < kMinSigningKeyBytes)
        problems.push_back("--signing-key-file: the key has " +
                           std::to_string(c->signingKey.size()) + " bytes; at least 32 are needed");
    }
  }
  c->maxBodyBytes = static_cast<size_t>(raw.maxBodyBytes);
  c->maxConnections = static_cast<size_t>(raw.maxConnections);
  c->threads = raw.threads;
  c->gateway.maxStreamsPerClient = raw.maxStreamsPerClient;
  c->gateway.workers = raw.workers;
  duration("--max-wait", raw.maxWait, std::chrono::milliseconds(0), std::chrono::seconds(60),
           &c->gateway.maxWait, problems);
  duration("--keepalive", raw.keepalive, std::chrono::seconds(1), std::chrono::minutes(5),
           &c->gateway.keepalive, problems);
  duration("--stream-idle-timeout", raw.streamIdleTimeout, std::chrono::seconds(10),
           std::chrono::hours(24), &c->gateway.streamIdleTimeout, problems);
  return problems;
}

}  // namespace osmosis::gateway
