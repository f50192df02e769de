#pragma once

// An owned NATS connection. Shared (std::shared_ptr) because JetStream contexts,
// subscriptions and messages must not outlive it.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nats/nats.h>

#include "common/nats/headers.hpp"
#include "common/nats/options.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

class Connection {
 public:
  // Connects, or says why not: no server reachable (Unavailable), credentials refused
  // (Unauthenticated), bad options or files (InvalidArgument).
  static Result<std::shared_ptr<Connection>> connect(const ConnectionOptions& options);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Core NATS publish (fire and forget; flush() to be sure the server has it).
  Status publish(std::string_view subject, std::string_view data, const Headers& headers = {});
  Status flush(std::chrono::milliseconds timeout);
  bool connected() const;
  std::string connectedUrl() const;

  natsConnection* raw() const { return nc_; }

 private:
  explicit Connection(natsConnection* nc) : nc_(nc) {}
  natsConnection* nc_;
};

}  // namespace osmosis::nats
