#pragma once

// The sidecar's configuration: flags, each also from an OSMOSIS_* environment variable (pod
// name and namespace also from POD_NAME / POD_NAMESPACE, as the downward API sets them).

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/nats/options.hpp"

namespace CLI {
class App;
}

namespace osmosis::sidecar {

using std::chrono::milliseconds;

enum class Mode { kDispatch, kReport };

struct Config {
  Mode mode = Mode::kDispatch;
  std::string channel;
  std::string ns;  // namespace
  std::string pod;
  std::string stream;
  std::string consumer;
  int appPort = 8080;
  std::string appPath = "/";
  int concurrency = 4;
  int maxBatch = 64;
  milliseconds messageTimeout{std::chrono::seconds(60)};
  std::optional<milliseconds> ackWait;               // nullopt: read from the consumer
  std::optional<std::vector<milliseconds>> backoff;  // nullopt: the consumer's list or exponential
  std::string deadLetterSubject;
  milliseconds reportInterval{1000};
  std::string reportSubjectPrefix = "osmosis.report";
  std::string listen = "0.0.0.0:9091";
  milliseconds drainGrace{std::chrono::seconds(25)};
  nats::ConnectionOptions nats;
  // Results events for requests that came through the gateway (docs/sidecar.md, "Results"):
  // off unless the Channel's gateway is enabled. The local endpoint for workers is served
  // only then, on a loopback address ("" disables it).
  bool results = false;
  std::string localListen;  // set by addFlags to the contract's default
  size_t maxResultBytes = kDefaultMaxResultBytes;

  static constexpr size_t kDefaultMaxResultBytes = 1024 * 1024;
};

// Bounds of --max-result-bytes: a result's body is held in memory per message in flight.
inline constexpr size_t kMinResultBytes = 1024;
inline constexpr size_t kMaxResultBytes = 64 * 1024 * 1024;

// Nothing, or why `host` (an IPv4 address, as --listen takes) is not a loopback address
// (127.0.0.0/8): the local endpoint has no authentication, so only the pod may reach it.
std::optional<std::string> loopbackProblem(const std::string& host);

// Raw flag values as parsed (strings for durations and lists), turned into a Config by
// `finish`, which says everything that is wrong.
struct RawFlags {
  std::string mode = "dispatch";
  std::string messageTimeout = "60s";
  std::string ackWait;
  std::string backoff;
  std::string reportInterval = "1s";
  std::string drainGrace = "25s";
  std::string natsUrls = "nats://127.0.0.1:4222";
  std::string logLevel = "info";
};

void addFlags(CLI::App& app, Config* config, RawFlags* raw);

// Pure apart from reading POD_NAME/POD_NAMESPACE and the host name through `env`.
// Returns every problem as a sentence; empty means the config is complete and valid.
using EnvLookup = std::string (*)(const char* name);
std::vector<std::string> finish(const RawFlags& raw, Config* config, EnvLookup env);

inline constexpr size_t kMaxBackoffSteps = 32;

// Parses "1s,5s,30s" into durations, each 1ms..24h (empty list refused).
std::optional<std::vector<milliseconds>> parseBackoffList(const std::string& text,
                                                          std::string* problem);

const char* modeName(Mode mode);

}  // namespace osmosis::sidecar
