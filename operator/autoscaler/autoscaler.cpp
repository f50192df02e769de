#include "operator/autoscaler/autoscaler.hpp"

namespace osmosis::autoscaler {

Autoscaler::Autoscaler(kube::Client& client, const kube::StoreReader& channels,
                       api::ParsedChannels& parsed, natspool::NatsConnections& nats,
                       kube::EventRecorder& events, metrics::Registry& metrics,
                       ScalerOptions options, const kube::Clock& clock)
    : client_(client),
      channels_(channels),
      parsed_(parsed),
      nats_(nats),
      events_(events),
      metrics_(metrics),
      options_(std::move(options)),
      clock_(clock),
      hpas_(client, clock, options_.hpaCheckPeriod),
      streams_(clock, options_.streamListPeriod, metrics) {}

Autoscaler::~Autoscaler() {
  clear();
}

void Autoscaler::clear() {
  std::map<std::string, std::shared_ptr<ChannelScaler>> gone;
  {
    std::lock_guard lock(mu_);
    gone.swap(scalers_);
  }
}

size_t Autoscaler::channels() const {
  std::lock_guard lock(mu_);
  return scalers_.size();
}

std::shared_ptr<ChannelScaler> Autoscaler::scalerFor(const kube::Request& req) {
  const std::string key = req.key();
  std::lock_guard lock(mu_);
  auto& s = scalers_[key];
  if (!s) {
    kube::WorkQueue* queue = queue_;
    s = std::make_shared<ChannelScaler>(
        req.ns, req.name,
        ScalerDeps{client_, events_, metrics_, clock_, options_, hpas_, streams_, [queue, key] {
                     if (queue != nullptr) queue->add(key);
                   }});
  }
  return s;
}

Result<kube::ReconcileResult> Autoscaler::reconcile(const kube::Request& req,
                                                    const kube::ReconcileLog& log) {
  kube::ObjectPtr channel = channels_.get(req.key());
  auto parsed = channel ? parsed_.get(*channel) : nullptr;
  const bool wanted = channel && !(*channel)["metadata"].contains("deletionTimestamp") &&
                      parsed->spec.scaleTarget.has_value();
  if (!wanted) {
    std::shared_ptr<ChannelScaler> gone;
    {
      std::lock_guard lock(mu_);
      if (auto it = scalers_.find(req.key()); it != scalers_.end()) {
        gone = std::move(it->second);
        scalers_.erase(it);
      }
    }
    if (gone) log.info("autoscaling stopped");
    return kube::ReconcileResult{};
  }
  scalerFor(req)->step(*channel, *parsed, nats_.boundTo(req.key()));
  return kube::ReconcileResult{false, options_.tick};
}

}  // namespace osmosis::autoscaler
