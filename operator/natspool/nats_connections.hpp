#pragma once

// NATS connections for Channels: the operator's default one, or one described by a Secret
// named in spec.nats.secretRef. Connections are shared by every Channel that uses the same
// settings (1,000 Channels on one NATS need one connection). libnats 3.4 reads creds and TLS
// material only from files, so Secret material is written to private (0600) files in a
// private (0700) directory, never to a shared temporary file.
//
// The Channel reconciler resolves a Channel's connection (reading its Secret) and binds it to
// the Channel; the autoscaler uses the bound one, so a Secret is read by one controller only.
// A connection nobody holds any more (its Channels deleted, its Secret rotated) is closed and
// its files removed at the next resolve (issue 16, item 15).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/nats/client.hpp"
#include "common/nats/options.hpp"
#include "common/util/result.hpp"
#include "operator/kube/client/client.hpp"

namespace osmosis::natspool {

struct SecretConnection {
  std::string source;               // "namespace/name" of the Secret, for messages
  nats::ConnectionOptions options;  // file paths still empty
  // "creds" | "ca.crt" | "tls.crt" | "tls.key" -> content
  std::map<std::string, std::string> files;
  std::set<std::string> keys;  // every non-empty key the Secret has that Osmosis uses
};

// Pure: a Secret object -> connection settings, or why it cannot be used (InvalidArgument,
// with a message that names the key and never shows a value).
Result<SecretConnection> parseNatsSecret(const nlohmann::json& secret);

// Opens one connection (the real one: libnats; tests: an in-memory fake).
using Connector =
    std::function<Result<std::shared_ptr<nats::Client>>(const nats::ConnectionOptions& options)>;

// The real connector: a libnats connection and JetStream context (3 s API timeout).
Result<std::shared_ptr<nats::Client>> connectLibnats(const nats::ConnectionOptions& options);

class NatsConnections {
 public:
  NatsConnections(nats::ConnectionOptions defaults, std::string privateDir,
                  Connector connector = connectLibnats);

  // The client for the default connection (secret == nullopt) or a Secret's.
  Result<std::shared_ptr<nats::Client>> get(const std::optional<SecretConnection>& secret);
  // Open connections.
  size_t size() const;

  // Which connection a Channel ("namespace/name") uses now, as its reconciler last resolved.
  void bind(const std::string& channel, std::shared_ptr<nats::Client> client);
  void unbind(const std::string& channel);
  std::shared_ptr<nats::Client> boundTo(const std::string& channel) const;

 private:
  struct Entry {
    std::shared_ptr<nats::Client> client;
    std::string dir;  // its private files, if any
  };
  Result<std::shared_ptr<nats::Client>> connect(const std::string& key,
                                                nats::ConnectionOptions options,
                                                const std::string& dir, const std::string& source);
  // Closes connections only the pool holds. Under mu_.
  void collect();

  nats::ConnectionOptions defaults_;
  std::string dir_;
  Connector connector_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> pool_;
  std::map<std::string, std::shared_ptr<nats::Client>> bound_;
};

// Reads the Secret `secretName` in `ns` (NotFound if missing, InvalidArgument if unusable).
Result<SecretConnection> readNatsSecret(kube::Client& client, const std::string& ns,
                                        const std::string& secretName);

}  // namespace osmosis::natspool
