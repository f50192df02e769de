#pragma once

// The gateway's flags (each also an environment variable), checked by finish(), which says
// everything that is wrong (pure apart from reading the signing key file).

#include <chrono>
#include <string>
#include <vector>

#include "common/nats/options.hpp"
#include "gateway/server/gateway.hpp"

namespace CLI {
class App;
}

namespace osmosis::gateway {

struct RawFlags {
  std::string logLevel = "info";
  std::string listen = "0.0.0.0:8080";
  std::string healthListen = "0.0.0.0:9090";
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> watchNamespaces;
  std::string natsUrls = "nats://127.0.0.1:4222";
  std::string signingKeyFile;
  int64_t maxBodyBytes = 1024 * 1024;
  std::string maxWait = "60s";
  int maxStreamsPerClient = 16;
  int64_t maxConnections = 10000;
  std::string keepalive = "15s";
  std::string streamIdleTimeout = "10m";
  // One: that thread also runs the publishing connection, so a POST is answered without a
  // hand-off between threads (docs/gateway.md, benchmark). Scale out with replicas.
  int threads = 1;
  int workers = 16;
};

struct Config {
  std::string listenHost;
  int listenPort = 8080;
  std::string healthHost;
  int healthPort = 9090;
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> watchNamespaces;
  nats::ConnectionOptions nats;
  std::string signingKey;  // (never logged)
  size_t maxBodyBytes = 1024 * 1024;
  size_t maxConnections = 10000;
  int threads = 1;
  GatewayOptions gateway;
};

void addFlags(CLI::App& app, RawFlags* raw, nats::ConnectionOptions* natsOptions);
std::vector<std::string> finish(const RawFlags& raw, Config* config);

}  // namespace osmosis::gateway
