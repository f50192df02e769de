#pragma once

// The ChannelDirectory and TokenSource on the API server: Channels from informers (one for
// every namespace, or one per watched namespace: the chart's namespaced mode), publishers'
// Secrets read by name with `get` and kept five seconds (a rotated token is live within that;
// the gateway needs no list or watch on Secrets).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "gateway/channels/channel_directory.hpp"
#include "operator/kube/cache/informer.hpp"
#include "operator/kube/client/client.hpp"

namespace osmosis::gateway {

class KubeChannels final : public ChannelDirectory, public TokenSource {
 public:
  // `namespaces` empty: all namespaces.
  KubeChannels(kube::Client& client, const std::vector<std::string>& namespaces);
  ~KubeChannels() override;

  void start();
  std::optional<ChannelEntry> find(const std::string& ns, const std::string& name) const override;
  bool ready() const override;
  Result<std::vector<std::string>> tokens(const std::string& ns,
                                          const std::string& secret) override;

 private:
  kube::Client& client_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;
  // The entry parsed from each Channel object, kept while the cache holds that same object
  // (parsing a Channel on every POST cost more than the rest of the request).
  mutable std::mutex parsedMu_;
  mutable std::map<std::string, std::pair<kube::ObjectPtr, ChannelEntry>> parsed_;
  std::mutex mu_;
  struct Cached {
    std::vector<std::string> tokens;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Cached> secrets_;
};

// Pure: the accepted tokens of a Secret object (every value of `data`, base64 decoded, with
// one trailing newline dropped; empty values ignored).
std::vector<std::string> secretTokens(const nlohmann::json& secret);

}  // namespace osmosis::gateway
