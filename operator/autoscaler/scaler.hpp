#pragma once

// The autoscaler's I/O side: for every Ready Channel with a scale target it gathers the
// signals (sidecar reports pushed on osmosis.report.<ns>.<name>, its own consumer reads when
// no pod reports, a subscription on the Channel's subjects while the target is at zero), asks
// the Engine, and actuates through the target's /scale subresource. Every change is an Event,
// a log line, metrics and status (replicas, lastScale, the ScalingActive condition).
//
// One loop thread evaluates a Channel when a report for it arrives, when a message wakes it
// from zero, and on every tick; NATS callbacks only hand data over and wake the loop.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/metrics/registry.hpp"
#include "operator/autoscaler/engine.hpp"
#include "operator/channel/nats_connections.hpp"
#include "operator/kube/cache/store.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/events/event_recorder.hpp"

namespace osmosis::autoscaler {

// Setting it to "true" on a Channel stops scaling (the target keeps its replicas).
inline constexpr const char* kPausedAnnotation = "osmosis.dev/scaling-paused";
inline constexpr const char* kFieldManager = "osmosis-autoscaler";

struct ScalerOptions {
  std::chrono::milliseconds tick{1000};
  std::chrono::milliseconds targetReadPeriod{5000};    // re-read the target's /scale
  std::chrono::milliseconds consumerReadPeriod{5000};  // own consumer reads while pods report
  std::chrono::milliseconds hpaCheckPeriod{10000};
  std::chrono::milliseconds forgetSilentPods{30000};
  // Listing the target's pods (which may report): at most this often when an unknown pod
  // reports, and this often while pods run.
  std::chrono::milliseconds podListMinInterval{1000};
  std::chrono::milliseconds podListPeriod{30000};
  std::string reportSubjectPrefix = "osmosis.report";
  Policy operatorPolicy;  // the operator-level fields (headroom, scale-up step, staleness)
};

class Scaler {
 public:
  Scaler(kube::Client& client, const kube::Store& channels, channel::NatsConnections& nats,
         kube::EventRecorder& events, metrics::Registry& metrics, ScalerOptions options = {});
  ~Scaler();
  Scaler(const Scaler&) = delete;
  Scaler& operator=(const Scaler&) = delete;

  void start();
  void stop();
  // A Channel was added, changed or deleted: look again now.
  void wake();

 private:
  struct ChannelState;
  void run();
  void sync(TimePoint now);
  void evaluate(ChannelState& state, const nlohmann::json& channel, TimePoint now);
  bool prepare(ChannelState& state, const nlohmann::json& channel, TimePoint now);
  void readConsumer(ChannelState& state, TimePoint now);
  void listPods(ChannelState& state, TimePoint now);
  void exportReportCounts(ChannelState& state);
  void updateWakeSubscription(ChannelState& state);
  void actuate(ChannelState& state, const nlohmann::json& channel, const Decision& d,
               TimePoint now);
  void writeStatus(ChannelState& state, const nlohmann::json& channel);

  kube::Client& client_;
  const kube::Store& channels_;
  channel::NatsConnections& nats_;
  kube::EventRecorder& events_;
  metrics::Registry& metrics_;
  ScalerOptions options_;

  std::map<std::string, std::unique_ptr<ChannelState>> states_;  // loop thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace osmosis::autoscaler
