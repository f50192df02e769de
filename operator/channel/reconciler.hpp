#pragma once

// The Channel controller: makes NATS match each Channel and says in its status and Events
// what it did and what is wrong. Level-triggered: every pass reads the Channel from the
// informer cache and the stream/consumer from the server, asks plan.hpp what to do, does it,
// and applies its status fields (status.hpp). A periodic requeue catches changes made
// directly on the server (deleted consumers, NATS restarts, drift).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/metrics/registry.hpp"
#include "common/nats/client.hpp"
#include "operator/api/parsed_cache.hpp"
#include "operator/api/subject_claims.hpp"
#include "operator/channel/plan.hpp"
#include "operator/channel/results_stream.hpp"
#include "operator/channel/sidecar_injection.hpp"
#include "operator/channel/status.hpp"
#include "operator/kube/cache/store.hpp"
#include "operator/kube/controller/controller.hpp"
#include "operator/kube/events/event_recorder.hpp"
#include "operator/natspool/nats_connections.hpp"

namespace osmosis::channel {

inline constexpr const char* kFinalizer = "osmosis.dev/stream";

struct ReconcilerOptions {
  std::chrono::milliseconds resync{std::chrono::seconds(30)};
  InjectionSettings injection;  // nativeSidecar is decided from the server's version
  api::SubjectPolicy subjectPolicy;
};

class ChannelReconciler final : public kube::Reconciler {
 public:
  ChannelReconciler(kube::Client& client, const kube::StoreReader& channels,
                    api::ParsedChannels& parsed, natspool::NatsConnections& nats,
                    kube::EventRecorder& events, metrics::Registry& metrics,
                    ReconcilerOptions options = {},
                    const kube::Clock& clock = kube::RealClock::instance());

  Result<kube::ReconcileResult> reconcile(const kube::Request& request,
                                          const kube::ReconcileLog& log) override;

 private:
  // One pass over one Channel: what it is, and what the pass found so far.
  struct Pass {
    const nlohmann::json& channel;
    const api::ChannelSpec& spec;
    kube::ObjectRef ref;
    const kube::ReconcileLog& log;
    Outcome out;
    std::optional<Error> retry;  // a failure worth retrying with backoff
  };

  Result<kube::ReconcileResult> finalize(const nlohmann::json& channel,
                                         const kube::ReconcileLog& log);
  Status ensureFinalizer(const nlohmann::json& channel);
  // Why the Channel may not be provisioned at all (spec, subject rule, conflict), if so.
  std::optional<api::Condition> refusal(const nlohmann::json& channel,
                                        const api::ParsedChannel& parsed, int64_t generation);
  std::optional<std::string> subjectConflict(const nlohmann::json& channel);
  std::vector<api::SubjectClaim> subjectClaims();
  Result<std::shared_ptr<nats::Client>> resolveNats(
      const std::string& ns, const std::string& secretName,
      std::optional<natspool::SecretConnection>* read);
  void ensureStream(nats::Client& js, Pass& pass);
  void ensureConsumer(nats::Client& js, Pass& pass);
  // The results stream while spec.gateway.enabled; deleted when it is not (results_stream.hpp).
  void ensureResults(nats::Client& js, Pass& pass);
  // On deletion: the results stream goes whatever the deletionPolicy (results are transient).
  Status deleteResults(const nlohmann::json& channel, const api::ChannelSpec& spec,
                       const Result<std::shared_ptr<nats::Client>>* js,
                       const kube::ReconcileLog& log);
  bool madeResults(const std::string& key);
  void recreateConsumer(nats::Client& js, Pass& pass, const Plan& plan, const Error& refused);
  void ensureInjection(const std::set<std::string>& secretKeys, Pass& pass);
  // Events, the log line and the status words of one acted-on plan.
  void tell(Pass& pass, const Plan& plan);
  Status writeStatus(const nlohmann::json& channel, const api::ChannelSpec& spec,
                     const Outcome& out);
  History history(const nlohmann::json& channel, const char* condition,
                  const std::set<std::string>& seen, int64_t generation);
  void natsCall(const char* op, bool ok);
  void remember(std::set<std::string>& set, const std::string& key);

  kube::Client& client_;
  const kube::StoreReader& channels_;
  api::ParsedChannels& parsed_;
  natspool::NatsConnections& nats_;
  kube::EventRecorder& events_;
  metrics::Registry& metrics_;
  ReconcilerOptions options_;
  const kube::Clock& clock_;
  std::optional<bool> nativeSidecars_;  // from the server's version, read once
  // Channels whose stream/consumer this process has seen ready: a later "not found" is a
  // loss (recreated, a warning), not a first creation, even after a NATS outage in between.
  std::mutex seenMu_;
  // Subject conflicts among all Channels, derived from the store at conflictsRevision_ (and
  // from claims that printed as conflictsClaims_): recomputed only when those change.
  std::mutex conflictsMu_;
  uint64_t conflictsRevision_ = UINT64_MAX;
  std::string conflictsClaims_;
  std::map<std::string, std::string> conflicts_;
  std::set<std::string> seenStreams_, seenConsumers_, seenResults_;
};

}  // namespace osmosis::channel
