#pragma once

// The autoscaler as a controller: every Channel with spec.worker.scaleTargetRef gets a
// ChannelScaler, stepped by the controller's workers (a small pool; a Channel is never stepped
// by two at once) when the Channel changes, when a report or a first message arrives for it
// (the NATS callbacks put its key in the queue), and every tick. A Channel that goes, or stops
// asking for scaling, has its scaler (and its subscriptions) dropped.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "operator/api/parsed_cache.hpp"
#include "operator/autoscaler/channel_scaler.hpp"
#include "operator/kube/cache/store.hpp"
#include "operator/kube/controller/controller.hpp"
#include "operator/natspool/nats_connections.hpp"

namespace osmosis::autoscaler {

class Autoscaler final : public kube::Reconciler {
 public:
  Autoscaler(kube::Client& client, const kube::StoreReader& channels, api::ParsedChannels& parsed,
             natspool::NatsConnections& nats, kube::EventRecorder& events,
             metrics::Registry& metrics, ScalerOptions options = {},
             const kube::Clock& clock = kube::RealClock::instance());
  ~Autoscaler() override;

  // Where reports and first messages put a Channel's key (the controller's queue). Set before
  // the controller starts.
  void setQueue(kube::WorkQueue* queue) { queue_ = queue; }

  Result<kube::ReconcileResult> reconcile(const kube::Request& request,
                                          const kube::ReconcileLog& log) override;

  // Drops every Channel's scaler and subscriptions (after the controller stopped).
  void clear();
  size_t channels() const;

 private:
  std::shared_ptr<ChannelScaler> scalerFor(const kube::Request& request);

  kube::Client& client_;
  const kube::StoreReader& channels_;
  api::ParsedChannels& parsed_;
  natspool::NatsConnections& nats_;
  kube::EventRecorder& events_;
  metrics::Registry& metrics_;
  const ScalerOptions options_;
  const kube::Clock& clock_;
  HpaLists hpas_;
  StreamStates streams_;
  kube::WorkQueue* queue_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<ChannelScaler>> scalers_;
};

}  // namespace osmosis::autoscaler
