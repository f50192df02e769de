#pragma once

// NATS connections for Channels: the operator's default one, or one described by a Secret
// named in spec.nats.secretRef. Connections are shared by every Channel that uses the same
// settings (1,000 Channels on one NATS need one connection). libnats 3.4 reads creds and TLS
// material only from files, so Secret material is written to private (0600) files in a
// private (0700) directory, never to a shared temporary file.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/nats/jetstream.hpp"
#include "common/util/result.hpp"
#include "operator/kube/client/client.hpp"

namespace osmosis::channel {

struct SecretConnection {
  nats::ConnectionOptions options;  // file paths still empty
  std::map<std::string, std::string>
      files;  // "creds" | "ca.crt" | "tls.crt" | "tls.key" -> content
};

// Pure: a Secret object -> connection settings, or why it cannot be used.
Result<SecretConnection> parseNatsSecret(const nlohmann::json& secret);

class NatsConnections {
 public:
  NatsConnections(nats::ConnectionOptions defaults, std::string privateDir);

  // The JetStream context for the default connection (secret == nullopt) or a Secret's.
  Result<std::shared_ptr<nats::JetStream>> get(const std::optional<SecretConnection>& secret);
  size_t size() const;

 private:
  Result<std::shared_ptr<nats::JetStream>> connect(const std::string& key,
                                                   nats::ConnectionOptions options);

  nats::ConnectionOptions defaults_;
  std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<nats::JetStream>> pool_;
};

// The JetStream context a Channel in `ns` uses: the default connection when `secretName` is
// empty, else the one its Secret describes (NotFound if the Secret is missing, InvalidArgument
// if it is unusable).
Result<std::shared_ptr<nats::JetStream>> connectionFor(kube::Client& client, NatsConnections& pool,
                                                       const std::string& ns,
                                                       const std::string& secretName);

}  // namespace osmosis::channel
