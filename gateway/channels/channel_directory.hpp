#pragma once

// What the gateway needs to know of a Channel, and where it learns it (seams for tests).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/util/result.hpp"

namespace osmosis::gateway {

struct ChannelEntry {
  std::string ns;
  std::string name;
  bool enabled = false;        // spec.gateway.enabled and a valid spec
  std::string publishSubject;  // where a POSTed message goes
  std::string stream;          // the channel's stream and durable consumer (backlog)
  std::string consumer;
  std::string resultsStream;     // where the sidecars publish request events
  std::string publishersSecret;  // empty: anyone who reaches the gateway may publish
  int64_t maxBacklog = 0;        // 0: no limit
  int64_t maxMessageBytes = -1;  // the stream's max_msg_size (-1: the server's max payload)
  double drainPerSecond = 0;     // measured by the autoscaler (0: unknown)
};

// Pure: a Channel object (as the API server returns it) -> its entry. `enabled` is false for
// a Channel whose spec is invalid or whose gateway is off.
ChannelEntry channelEntry(const nlohmann::json& channel);

// Pure: the subject a POST publishes to: the Channel's first subject, each wildcard token
// ('*', '>') replaced by "gateway" (docs/gateway.md).
std::string publishSubjectFor(const std::string& firstSubject);

class ChannelDirectory {
 public:
  virtual ~ChannelDirectory() = default;
  virtual std::optional<ChannelEntry> find(const std::string& ns,
                                           const std::string& name) const = 0;
  // The Channels have been listed once (before that every lookup would be a false 404).
  virtual bool ready() const = 0;
};

// The accepted bearer tokens of a publishers Secret (every value of its data).
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual Result<std::vector<std::string>> tokens(const std::string& ns,
                                                  const std::string& secret) = 0;
};

}  // namespace osmosis::gateway
