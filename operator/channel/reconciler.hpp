#pragma once

// The Channel reconciler: makes NATS match each Channel and says in its status and Events
// what it did and what is wrong. Level-triggered: every pass reads the Channel from the
// informer cache and the stream/consumer from the server, and converges; a periodic requeue
// catches changes made directly on the server (deleted consumers, NATS restarts, drift).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/metrics/registry.hpp"
#include "operator/channel/nats_connections.hpp"
#include "operator/channel/sidecar_injection.hpp"
#include "operator/channel/spec.hpp"
#include "operator/channel/subject_claims.hpp"
#include "operator/kube/cache/informer.hpp"
#include "operator/kube/controller/controller.hpp"
#include "operator/kube/events/event_recorder.hpp"

namespace osmosis::channel {

inline constexpr const char* kFinalizer = "osmosis.dev/stream";

struct ReconcilerOptions {
  std::chrono::milliseconds resync{std::chrono::seconds(30)};
  InjectionSettings injection;  // nativeSidecar is decided from the server's version
  SubjectPolicy subjectPolicy;
};

class ChannelReconciler final : public kube::Reconciler {
 public:
  ChannelReconciler(kube::Client& client, const kube::Store& channels, NatsConnections& nats,
                    kube::EventRecorder& events, metrics::Registry& metrics,
                    ReconcilerOptions options = {},
                    const kube::Clock& clock = kube::RealClock::instance());

  Result<kube::ReconcileResult> reconcile(const kube::Request& request,
                                          const kube::ReconcileLog& log) override;

 private:
  struct Outcome;  // what one pass found, turned into status
  Result<kube::ReconcileResult> finalize(const nlohmann::json& channel,
                                         const kube::ReconcileLog& log);
  Status ensureFinalizer(const nlohmann::json& channel);
  std::optional<SubjectClaim> claimOf(const nlohmann::json& channel) const;
  std::optional<std::string> subjectConflict(const nlohmann::json& channel) const;
  void reconcileStream(nats::JetStream& js, const nlohmann::json& channel, const ChannelSpec& spec,
                       Outcome& out, const kube::ReconcileLog& log);
  void reconcileConsumer(nats::JetStream& js, const nlohmann::json& channel,
                         const ChannelSpec& spec, Outcome& out, const kube::ReconcileLog& log);
  void reconcileInjection(const nlohmann::json& channel, const ChannelSpec& spec,
                          const std::set<std::string>& secretKeys, Outcome& out,
                          const kube::ReconcileLog& log);
  Result<std::shared_ptr<nats::JetStream>> resolveNats(const std::string& ns,
                                                       const std::string& secretName,
                                                       std::optional<SecretConnection>* read);
  Status writeStatus(const nlohmann::json& channel, const Outcome& out);
  void natsCall(const char* op, bool ok);
  bool seen(const std::set<std::string>& set, const std::string& key);
  void remember(std::set<std::string>& set, const std::string& key);

  kube::Client& client_;
  const kube::Store& channels_;
  NatsConnections& nats_;
  kube::EventRecorder& events_;
  metrics::Registry& metrics_;
  ReconcilerOptions options_;
  const kube::Clock& clock_;
  std::optional<bool> nativeSidecars_;  // from the server's version, read once
  // Channels whose stream/consumer this process has seen ready: a later "not found" is a
  // loss (recreated, a warning), not a first creation, even after a NATS outage in between.
  std::mutex seenMu_;
  std::set<std::string> seenStreams_, seenConsumers_;
  struct CachedClaim {
    std::string resourceVersion;
    std::optional<SubjectClaim> claim;
  };
  mutable std::mutex subjectsMu_;
  mutable std::map<std::string, CachedClaim> claims_;
};

}  // namespace osmosis::channel
