#pragma once

// Autoscaling of one Channel, one step at a time (KEDA's split, in small): signal sources fill
// the engine's inputs (the report inbox, fed by a subscription on the Channel's report subject;
// the operator's own consumer and stream reads; a subscription on the Channel's own subjects
// while the target is at zero, so the first message wakes it), the unchanged engine decides,
// the ScaleTarget actuates through /scale, and the Channel's status (ScalingActive, replicas,
// lastScale) is applied under the autoscaler's field manager. Every change is an Event, a log
// line and metrics.
//
// Not thread-safe: the Autoscaler controller's work queue hands one Channel to one worker at a
// time. NATS callbacks only hand data over (the inbox, a flag) and poke().

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics/registry.hpp"
#include "common/nats/client.hpp"
#include "operator/api/conditions.hpp"
#include "operator/api/spec.hpp"
#include "operator/autoscaler/engine.hpp"
#include "operator/autoscaler/hpa_lists.hpp"
#include "operator/autoscaler/report_inbox.hpp"
#include "operator/autoscaler/scale_target.hpp"
#include "operator/autoscaler/stream_states.hpp"
#include "operator/kube/events/event_recorder.hpp"
#include "operator/kube/util/clock.hpp"

namespace osmosis::autoscaler {

// Setting it to "true" on a Channel stops scaling (the target keeps its replicas).
inline constexpr const char* kPausedAnnotation = "osmosis.dev/scaling-paused";

struct ScalerOptions {
  std::chrono::milliseconds tick{1000};              // evaluate at least this often
  std::chrono::milliseconds targetReadPeriod{5000};  // re-read the target's /scale
  // Own consumer reads while pods report; without reports, at least this often (between
  // them, only when the stream moved: stream_states.hpp).
  std::chrono::milliseconds consumerReadPeriod{5000};
  // Every stream's state listed at most this often, shared by all Channels (stream_states.hpp).
  std::chrono::milliseconds streamListPeriod{500};
  std::chrono::milliseconds hpaCheckPeriod{10000};
  std::chrono::milliseconds forgetSilentPods{30000};
  // Listing the target's pods (which may report): at most this often when an unknown pod
  // reports, and this often while pods run and report.
  std::chrono::milliseconds podListMinInterval{1000};
  std::chrono::milliseconds podListPeriod{30000};
  // A report claiming more than the stream held at the last read makes the operator read
  // again at once, at most this often (a burst is seen at once; a liar cannot flood NATS).
  std::chrono::milliseconds recheckInterval{200};
  std::string reportSubjectPrefix = "osmosis.report";
  // Before a scale-down, set the target's pods' pod-deletion-cost from their reports (idle
  // first; deletion_cost.hpp). Needs pods patch in the Channel's namespace.
  bool podDeletionCost = false;
  Policy operatorPolicy;  // the operator-level fields (headroom, scale-up step, staleness)
  Tuning tuning;          // every Channel's engine's (the band and idle release from flags)
};

// What a Channel's scaler works with, injected (the controller passes its own).
struct ScalerDeps {
  kube::Client& client;
  kube::EventRecorder& events;
  metrics::Registry& metrics;
  const kube::Clock& clock;
  const ScalerOptions& options;
  HpaLists& hpas;              // shared by every scaler: one HPA list per namespace and period
  StreamStates& streams;       // shared by every scaler: one stream list per client and period
  std::function<void()> poke;  // evaluate this Channel soon (from NATS threads)
};

class ChannelScaler {
 public:
  ChannelScaler(std::string ns, std::string name, ScalerDeps deps);
  ~ChannelScaler();
  ChannelScaler(const ChannelScaler&) = delete;
  ChannelScaler& operator=(const ChannelScaler&) = delete;

  // One evaluation of the Channel: `channel` as cached, `parsed` its parse, `nats` the client
  // the Channel controller bound for it (null until it has).
  void step(const nlohmann::json& channel, const api::ParsedChannel& parsed,
            std::shared_ptr<nats::Client> nats);

 private:
  // Settings from the spec (engine policy, target, NATS client); false when the Channel
  // cannot be scaled now, with the reason in the condition.
  bool configure(const nlohmann::json& channel, const api::ParsedChannel& parsed,
                 std::shared_ptr<nats::Client> nats);
  // The target's replicas and selector, HPAs, the subscriptions and which pods may report.
  bool observe(TimePoint now);
  void listPods(TimePoint now);
  void updateWakeSubscription();
  // The engine's inputs: live reports and, when due, the operator's own read.
  Inputs gather(TimePoint now);
  // How much to read: the consumer only when the shared stream list shows the stream moved
  // (a lag-mode tick); the consumer, its stream's figures from the list when it has them (due
  // reads); both directly (a report claims more than the stream held: a current bound).
  enum class Read { kIfStreamMoved, kConsumer, kExact };
  void readConsumer(TimePoint now, Read how);
  // The stream's figures from the shared list, when it has them newer than ours.
  std::optional<std::pair<nats::StreamState, TimePoint>> listedStream();
  void act(const nlohmann::json& channel, const Decision& d, TimePoint now);
  // The pod-deletion-cost plan applied (a preference: failures are logged and counted, and
  // the scale-down goes on).
  void markDeletionCosts(TimePoint now);
  void writeStatus(const nlohmann::json& channel);
  void exportReportCounts();
  bool fail(const std::string& reason, const std::string& message);

  const std::string ns_, name_, key_;
  ScalerDeps deps_;
  int64_t generation_ = -1;
  std::optional<api::ChannelSpec> spec_;
  std::optional<Engine> engine_;
  std::optional<ScaleTarget> target_;
  std::shared_ptr<nats::Client> nats_;
  std::shared_ptr<ReportInbox> inbox_;
  std::shared_ptr<std::atomic<bool>> woke_ = std::make_shared<std::atomic<bool>>(false);
  // Declared after what their callbacks use: destroyed first, so no callback outlives it.
  std::unique_ptr<nats::Listening> reportSub_;
  std::vector<std::unique_ptr<nats::Listening>> wakeSubs_;
  TimePoint targetReadAt_{}, hpaCheckedAt_{}, podsListedAt_{}, consumerReadAt_{};
  uint64_t acceptedAtPodList_ = 0;  // reports accepted when the pods were last listed
  std::optional<std::string> hpa_;
  std::optional<ConsumerSnapshot> consumer_;
  bool consumerReadFailed_ = false;  // the last own read failed: consumer_ is older than that
  std::optional<std::string> scaleFailure_;
  // What the status should say.
  api::Condition active_{"ScalingActive", "Unknown", "Pending", "not evaluated yet", 0};
  std::optional<int> desired_;
  nlohmann::json lastScale_;
  nlohmann::json throughput_;  // status.throughput: the learned per-pod rate (null: none)
  std::string lastProblem_, podsProblem_;  // logged once per change, not every tick
  InboxStats exported_;                    // report counts already added to the metrics
};

}  // namespace osmosis::autoscaler
