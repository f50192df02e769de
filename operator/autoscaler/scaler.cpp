#include "operator/autoscaler/scaler.hpp"

#include <atomic>
#include <set>

#include "common/log/logger.hpp"
#include "common/nats/subscription.hpp"
#include "common/process/guarded.hpp"
#include "operator/autoscaler/report_inbox.hpp"
#include "operator/autoscaler/scaling_status.hpp"
#include "operator/channel/conditions.hpp"
#include "operator/channel/naming.hpp"
#include "operator/kube/api/time_format.hpp"
#include "operator/kube/controller/controller.hpp"

namespace osmosis::autoscaler {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

struct Scaler::ChannelState {
  std::string key, ns, name;
  int64_t generation = -1;
  channel::ChannelSpec spec;
  std::optional<Engine> engine;
  std::shared_ptr<nats::JetStream> js;
  std::shared_ptr<ReportInbox> inbox;
  std::shared_ptr<std::atomic<bool>> woke = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<nats::Subscription> reportSub;
  std::vector<std::unique_ptr<nats::Subscription>> wakeSubs;
  std::optional<kube::Resource> target;
  std::optional<int> currentReplicas;
  std::string selector;  // the target's pods (/scale status.selector)
  TimePoint targetReadAt{};
  TimePoint podsListedAt{};
  std::string podsProblem;  // logged once per change
  std::optional<ConsumerSnapshot> consumer;
  TimePoint consumerReadAt{};
  TimePoint lastEvalAt{};
  std::optional<std::string> hpa;
  TimePoint hpaCheckedAt{};
  // What the status should say (written when the cached Channel differs).
  channel::Condition active{"ScalingActive", "Unknown", "Pending", "not evaluated yet", 0};
  std::optional<int> desired;
  json lastScale;
  std::string lastProblem;  // logged once per change, not every tick
  InboxStats exported;      // report counts already added to the metrics
};

namespace {

bool paused(const json& channel) {
  const auto& md = channel["metadata"];
  return md.contains("annotations") && md["annotations"].is_object() &&
         md["annotations"].value(kPausedAnnotation, "") == "true";
}

bool channelReady(const json& channel) {
  json c = channel::findCondition(
      channel.value("status", json::object()).value("conditions", json()), "Ready");
  return c.is_object() && c.value("status", "") == "True";
}

}  // namespace

Scaler::Scaler(kube::Client& client, const kube::Store& channels, channel::NatsConnections& nats,
               kube::EventRecorder& events, metrics::Registry& metrics, ScalerOptions options)
    : client_(client),
      channels_(channels),
      nats_(nats),
      events_(events),
      metrics_(metrics),
      options_(std::move(options)) {}

Scaler::~Scaler() {
  stop();
}

void Scaler::start() {
  thread_ = std::thread([this] { guarded("autoscaler", [this] { run(); }); });
}

void Scaler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  states_.clear();  // unsubscribes before anything the callbacks use goes away
}

void Scaler::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Scaler::run() {
  TimePoint lastSync{};
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // Short waits: reports and wake-ups set flags and notify; the tick bounds the rest.
      cv_.wait_for(lock, milliseconds(100), [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    TimePoint now = Clock::now();
    if (now - lastSync >= milliseconds(500)) {
      sync(now);
      lastSync = now;
    }
    for (auto& [key, state] : states_) {
      kube::ObjectPtr obj = channels_.get(key);
      if (!obj) continue;
      bool due = now - state->lastEvalAt >= options_.tick;
      bool reported = state->inbox && state->inbox->takeDirty();
      bool woke = state->woke->load();
      if (!(due || reported || woke)) continue;
      try {
        evaluate(*state, *obj, Clock::now());
      } catch (const std::exception& e) {
        // One Channel's bug must not stop scaling for every other: log, try again next tick.
        state->lastEvalAt = Clock::now();
        log::error("autoscaler evaluation threw", {{"channel", key}, {"error", e.what()}});
      }
    }
  }
}

// Keeps one state per Channel that asks for scaling; drops the rest (and their subscriptions).
void Scaler::sync(TimePoint now) {
  std::map<std::string, bool> wanted;
  for (const auto& obj : channels_.list()) {
    if ((*obj)["metadata"].contains("deletionTimestamp")) continue;
    // A cheap look, not a parse (this runs twice a second over every Channel); prepare()
    // parses the ones that ask for scaling.
    auto spec = obj->find("spec");
    if (spec == obj->end() || !spec->is_object()) continue;
    auto worker = spec->find("worker");
    if (worker == spec->end() || !worker->is_object() || !worker->contains("scaleTargetRef"))
      continue;
    wanted[kube::keyOf(*obj)] = true;
  }
  for (auto it = states_.begin(); it != states_.end();) {
    if (!wanted.count(it->first)) {
      log::info("autoscaling stopped", {{"channel", it->first}});
      it = states_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, _] : wanted) {
    if (states_.count(key)) continue;
    auto st = std::make_unique<ChannelState>();
    auto req = kube::Request::fromKey(key);
    st->key = key;
    st->ns = req.ns;
    st->name = req.name;
    st->lastEvalAt = now - options_.tick;  // evaluate at once
    states_.emplace(key, std::move(st));
  }
}

// Everything before a decision: settings, NATS, the target and its replicas, HPAs, the
// wake-up subscription. False when the Channel cannot be scaled now (the condition says why).
bool Scaler::prepare(ChannelState& s, const json& channel, TimePoint now) {
  const int64_t generation = channel["metadata"].value("generation", int64_t{0});
  auto fail = [&](const std::string& reason, const std::string& message) {
    s.active = {"ScalingActive", "False", reason, message, generation};
    if (message != s.lastProblem) {
      log::warn("cannot scale", {{"channel", s.key}, {"reason", reason}, {"error", message}});
      s.lastProblem = message;
    }
    return false;
  };
  if (generation != s.generation) {
    auto parsed = channel::parseChannel(channel);
    if (!parsed.problems.empty() || !parsed.spec.scaleTarget) return false;
    Policy policy = policyFrom(parsed.spec.scaling, options_.operatorPolicy);
    if (s.engine) {
      if (auto st = s.engine->setPolicy(policy); !st)
        return fail("InvalidPolicy", st.error().message);
    } else {
      auto e = Engine::create(policy);
      if (!e) return fail("InvalidPolicy", e.error().message);
      s.engine.emplace(std::move(e.value()));
    }
    bool targetChanged = !s.spec.scaleTarget ||
                         s.spec.scaleTarget->name != parsed.spec.scaleTarget->name ||
                         s.spec.scaleTarget->kind != parsed.spec.scaleTarget->kind ||
                         s.spec.scaleTarget->apiVersion != parsed.spec.scaleTarget->apiVersion;
    bool natsChanged = s.spec.natsSecret != parsed.spec.natsSecret || !s.js;
    s.spec = parsed.spec;
    s.generation = generation;
    if (targetChanged) {
      s.target.reset();
      s.currentReplicas.reset();
      s.hpa.reset();
      s.hpaCheckedAt = {};
    }
    if (natsChanged) {
      s.reportSub.reset();
      s.wakeSubs.clear();
      s.js.reset();
    }
  }
  if (!channelReady(channel))
    return fail("ChannelNotReady", "waiting for the stream and consumer (condition Ready)");

  const auto& ref = *s.spec.scaleTarget;
  if (!s.target) {
    auto r = client_.resourceFor(ref.apiVersion, ref.kind);
    if (!r)
      return fail("TargetUnknown", ref.apiVersion + " " + ref.kind + ": " + r.error().message);
    s.target = r.value();
  }
  if (!s.currentReplicas || now - s.targetReadAt >= options_.targetReadPeriod) {
    auto scale = client_.getScale(*s.target, s.ns, ref.name);
    if (!scale) {
      if (kube::isNotFound(scale.error())) {
        return fail("TargetNotFound", ref.kind + " " + s.ns + "/" + ref.name +
                                          " (spec.worker.scaleTargetRef) not found, or it has "
                                          "no /scale subresource");
      }
      return fail("TargetUnavailable", scale.error().message);
    }
    s.currentReplicas = scale->value("spec", json::object()).value("replicas", 0);
    s.selector = scale->value("status", json::object()).value("selector", "");
    s.targetReadAt = now;
  }
  if (now - s.hpaCheckedAt >= options_.hpaCheckPeriod) {
    auto hpas = client_.get(kube::resources::horizontalPodAutoscalers(), s.ns, "");
    if (hpas) s.hpa = conflictingHpa(hpas.value(), ref);
    s.hpaCheckedAt = now;
  }

  // The connection the Channel reconciler resolved for this Channel (it reads the Secret);
  // when that changes (a rotated Secret), subscribe again on the new one.
  auto bound = nats_.boundTo(s.key);
  if (!bound) return fail("NatsUnavailable", "waiting for the Channel's NATS connection");
  if (bound != s.js) {
    s.reportSub.reset();
    s.wakeSubs.clear();
    s.js = std::move(bound);
  }
  if (!s.reportSub) {
    s.inbox = std::make_shared<ReportInbox>(s.ns, s.name);
    s.exported = {};
    auto subject = report::subjectFor(s.ns, s.name, options_.reportSubjectPrefix);
    if (!subject) return fail("InvalidName", subject.error().message);
    auto inbox = s.inbox;
    auto sub = nats::Subscription::subscribe(
        s.js->connection(), subject.value(),
        [this, inbox](std::string_view, std::string_view data) {
          // Taken, or held until the pods are listed: either way, look soon.
          if (inbox->offer(data, Clock::now(), std::chrono::system_clock::now()) ||
              inbox->unknownPodsWaiting()) {
            std::lock_guard lock(mu_);
            woken_ = true;
            cv_.notify_all();
          }
        });
    if (!sub) return fail("NatsUnavailable", sub.error().message);
    s.reportSub = std::move(sub.value());
  }
  listPods(s, now);
  updateWakeSubscription(s);
  s.lastProblem.clear();
  return true;
}

// Only the target's live pods may report (issue 16, item 12). Listed at the start, when a
// report names a pod not seen yet (at most every podListMinInterval), and every podListPeriod
// while the target runs pods (to forget the ones that went).
void Scaler::listPods(ChannelState& s, TimePoint now) {
  const auto since = now - s.podsListedAt;
  const bool first = s.podsListedAt == TimePoint{};
  const bool unknown = s.inbox->unknownPodsWaiting() && since >= options_.podListMinInterval;
  const bool periodic = s.currentReplicas.value_or(0) > 0 && since >= options_.podListPeriod;
  if (!first && !unknown && !periodic) return;
  s.podsListedAt = now;
  kube::ListOptions lo;
  lo.labelSelector = s.selector;
  auto pods = client_.list(kube::resources::pods(), s.ns, lo);
  metrics_
      .counter("osmosis_pod_lists_total", "Pod listings to check which pods may report",
               {{"result", pods ? "ok" : "error"}})
      .inc();
  if (!pods) {
    if (pods.error().message != s.podsProblem) {
      log::warn("cannot list the target's pods; their reports are ignored until it can",
                {{"channel", s.key}, {"selector", s.selector}, {"error", pods.error().message}});
      s.podsProblem = pods.error().message;
    }
    return;
  }
  s.podsProblem.clear();
  std::set<std::string> live;
  for (const auto& pod : pods->items) {
    const std::string phase = pod.value("status", json::object()).value("phase", "");
    if (phase == "Succeeded" || phase == "Failed") continue;
    live.insert(pod["metadata"].value("name", ""));
  }
  s.inbox->setLivePods(std::move(live));
}

// At zero nobody reports: listen on the Channel's own subjects so the first message wakes the
// target without waiting for a poll. Dropped again once pods run (it would see all traffic).
void Scaler::updateWakeSubscription(ChannelState& s) {
  if (!s.js || !s.currentReplicas) return;
  if (*s.currentReplicas == 0 && s.wakeSubs.empty()) {
    for (const auto& subject : s.spec.subjects) {
      auto woke = s.woke;
      auto sub = nats::Subscription::subscribe(s.js->connection(), subject,
                                               [this, woke](std::string_view, std::string_view) {
                                                 if (!woke->exchange(true)) {
                                                   std::lock_guard lock(mu_);
                                                   woken_ = true;
                                                   cv_.notify_all();
                                                 }
                                               });
      if (sub) s.wakeSubs.push_back(std::move(sub.value()));
    }
  } else if (*s.currentReplicas > 0 && !s.wakeSubs.empty()) {
    s.wakeSubs.clear();
  }
}

void Scaler::readConsumer(ChannelState& s, TimePoint now) {
  auto ci = s.js->consumerInfo(s.spec.stream.name, s.spec.consumer.durable);
  auto si = s.js->streamInfo(s.spec.stream.name);
  metrics_
      .counter("osmosis_nats_calls_total", "JetStream API calls made by the operator",
               {{"op", "consumer.info"}})
      .inc();
  metrics_
      .counter("osmosis_nats_calls_total", "JetStream API calls made by the operator",
               {{"op", "stream.info"}})
      .inc();
  s.consumerReadAt = now;
  if (!ci || !si) {
    const Error& e = !ci ? ci.error() : si.error();
    if (e.message != s.lastProblem) {
      log::warn("cannot read the consumer", {{"channel", s.key}, {"error", e.message}});
      s.lastProblem = e.message;
    }
    return;
  }
  ConsumerSnapshot snap;
  snap.counts = {ci->numPending, ci->numAckPending, ci->numRedelivered};
  snap.streamLastSequence = si->state.lastSequence;
  snap.streamMessages = si->state.messages;
  snap.readAt = now;
  s.consumer = snap;
}

// What became of the reports, as counters: a spoofing or broken sidecar shows here.
void Scaler::exportReportCounts(ChannelState& s) {
  if (!s.inbox) return;
  const InboxStats now = s.inbox->stats();
  auto add = [&](const char* result, uint64_t InboxStats::*field) {
    const uint64_t delta = now.*field - s.exported.*field;
    if (delta == 0) return;
    metrics_
        .counter("osmosis_reports_total", "Sidecar reports received, by what became of them",
                 {{"channel", s.key}, {"result", result}})
        .inc(delta);
  };
  add("accepted", &InboxStats::accepted);
  add("malformed", &InboxStats::malformed);
  add("mismatched", &InboxStats::mismatched);
  add("unknown_pod", &InboxStats::unknownPod);
  add("stale", &InboxStats::stale);
  add("out_of_order", &InboxStats::outOfOrder);
  if (now.lastProblem != s.exported.lastProblem && !now.lastProblem.empty())
    log::debug("report refused", {{"channel", s.key}, {"problem", now.lastProblem}});
  s.exported = now;
}

void Scaler::evaluate(ChannelState& s, const json& channel, TimePoint now) {
  s.lastEvalAt = now;
  bool ok = prepare(s, channel, now);
  exportReportCounts(s);
  if (ok) {
    auto reports = s.inbox->snapshot(now, options_.forgetSilentPods);
    bool fresh = false;
    for (const auto& r : reports)
      fresh = fresh || now - r.receivedAt <= s.engine->policy().reportStaleness;
    bool woke = s.woke->exchange(false);
    // A report claiming more work than the stream held at the last read: read again now, so
    // the engine bounds it by a current figure (rate-limited: a liar cannot flood NATS).
    bool implausible = false;
    for (const auto& r : reports) {
      implausible = implausible || (r.consumer && s.consumer && s.consumer->streamMessages &&
                                    r.consumer->pending > *s.consumer->streamMessages);
    }
    if (!fresh || woke || now - s.consumerReadAt >= options_.consumerReadPeriod ||
        (implausible && now - s.consumerReadAt >= options_.podListMinInterval))
      readConsumer(s, now);
    Inputs in;
    in.reports = std::move(reports);
    in.consumer = s.consumer;
    in.currentReplicas = *s.currentReplicas;
    Decision d = s.engine->evaluate(in, now);
    metrics::Labels labels{{"channel", s.key}};
    metrics_.gauge("osmosis_backlog", "Backlog the autoscaler decided on", labels)
        .set(static_cast<double>(d.backlog.total));
    metrics_.gauge("osmosis_desired_replicas", "Replicas the autoscaler wants", labels)
        .set(d.desiredReplicas);
    s.desired = d.desiredReplicas;
    if (paused(channel)) {
      s.active = {"ScalingActive", "False", "Paused",
                  std::string("annotation ") + kPausedAnnotation + "=true; the target keeps " +
                      std::to_string(*s.currentReplicas) + " replicas",
                  s.generation};
    } else if (s.hpa) {
      s.active = {"ScalingActive", "False", "ConflictingAutoscaler",
                  "HorizontalPodAutoscaler " + *s.hpa + " also scales " + s.spec.scaleTarget->kind +
                      " " + s.spec.scaleTarget->name + "; Osmosis leaves it alone",
                  s.generation};
    } else {
      if (d.kind != DecisionKind::kNone && d.desiredReplicas != *s.currentReplicas)
        actuate(s, channel, d, now);
      if (s.active.reason != "ScaleFailed" || d.kind == DecisionKind::kNone) {
        s.active = {"ScalingActive", "True", "Scaling",
                    "scaling " + s.spec.scaleTarget->kind + " " + s.spec.scaleTarget->name +
                        " between " + std::to_string(s.engine->policy().minReplicas) + " and " +
                        std::to_string(s.engine->policy().maxReplicas) + " replicas by backlog (" +
                        modeName(d.mode) + " mode)",
                    s.generation};
      }
    }
  }
  writeStatus(s, channel);
}

void Scaler::actuate(ChannelState& s, const json& channel, const Decision& d, TimePoint now) {
  const int from = *s.currentReplicas, to = d.desiredReplicas;
  const std::string& target = s.spec.scaleTarget->name;
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  auto r = client_.setReplicas(*s.target, s.ns, target, to);
  if (!r) {
    std::string msg = "cannot scale " + target + " " + std::to_string(from) + " -> " +
                      std::to_string(to) + ": " + r.error().message;
    events_.warning(ref, "ScaleFailed", msg);
    log::error("scale failed", {{"channel", s.key},
                                {"target", target},
                                {"from", from},
                                {"to", to},
                                {"error", r.error().message}});
    s.active = {"ScalingActive", "False", "ScaleFailed", msg, s.generation};
    s.targetReadAt = {};  // read it again next time
    metrics_
        .counter("osmosis_scale_errors_total", "Scale subresource writes that failed",
                 {{"channel", s.key}})
        .inc();
    return;
  }
  const char* kind = kindName(d.kind);
  std::string msg = eventMessage(target, from, to, d);
  events_.normal(ref, kind, msg);
  log::info("scaled", {{"channel", s.key},
                       {"target", target},
                       {"event", kind},
                       {"from", from},
                       {"to", to},
                       {"mode", modeName(d.mode)},
                       {"backlog", d.backlog.total},
                       {"pending", d.backlog.pending},
                       {"inFlight", d.backlog.inFlight},
                       {"ackPending", d.backlog.ackPending},
                       {"livePods", d.backlog.livePods},
                       {"arrivalRate", d.arrivalRate},
                       {"perPodRate", d.perPodRate ? json(*d.perPodRate) : json()},
                       {"reason", d.reason}});
  s.currentReplicas = to;
  s.targetReadAt = now;
  updateWakeSubscription(s);  // at once: a message right after a scale to zero must wake it
  s.lastScale = {{"time", kube::formatTime(std::chrono::system_clock::now())},
                 {"from", from},
                 {"to", to},
                 {"reason", d.reason.substr(0, 1024)}};
  metrics_
      .counter("osmosis_scaling_decisions_total", "Scale changes made",
               {{"channel", s.key}, {"kind", kind}})
      .inc();
  // From the newest report (what triggered this) to the change being made.
  TimePoint arrived = s.inbox->lastArrival();
  if (arrived != TimePoint{} && Clock::now() - arrived < std::chrono::seconds(5)) {
    metrics_
        .histogram("osmosis_scale_decision_latency_seconds",
                   "From the newest report to the scale change being written")
        .observe(std::chrono::duration<double>(Clock::now() - arrived).count());
  }
  s.lastProblem.clear();
}

// Server-side apply of the autoscaler's own status fields (its field manager owns only the
// ScalingActive condition, replicas and lastScale), when the cached Channel says otherwise.
void Scaler::writeStatus(ChannelState& s, const json& channel) {
  const json status = channel.value("status", json::object());
  json conditions = status.value("conditions", json::array());
  json have = channel::findCondition(conditions, "ScalingActive");
  bool conditionSame = have.is_object() && have.value("status", "") == s.active.status &&
                       have.value("reason", "") == s.active.reason &&
                       have.value("message", "") == s.active.message &&
                       have.value("observedGeneration", int64_t{-1}) == s.active.observedGeneration;
  json replicas =
      s.currentReplicas && s.desired ? replicasStatus(*s.currentReplicas, *s.desired) : json();
  bool replicasSame = replicas.is_null() || status.value("replicas", json()) == replicas;
  bool lastScaleSame = s.lastScale.is_null() || status.value("lastScale", json()) == s.lastScale;
  if (conditionSame && replicasSame && lastScaleSame) return;

  std::string now = kube::formatTime(std::chrono::system_clock::now());
  // setCondition keeps lastTransitionTime while the status holds.
  json cond =
      channel::setCondition(have.is_object() ? json::array({have}) : json::array(), s.active, now)
          .at(0);
  json body = {{"apiVersion", "osmosis.dev/v1alpha1"},
               {"kind", "Channel"},
               {"metadata", {{"name", s.name}, {"namespace", s.ns}}},
               {"status", {{"conditions", json::array({cond})}}}};
  if (!replicas.is_null()) body["status"]["replicas"] = replicas;
  if (!s.lastScale.is_null()) body["status"]["lastScale"] = s.lastScale;
  kube::PatchOptions po;
  po.fieldManager = kFieldManager;
  po.force = true;
  po.subresource = "status";
  auto r =
      client_.patch(kube::resources::channels(), s.ns, s.name, kube::PatchType::kApply, body, po);
  if (!r && !kube::isNotFound(r.error())) {
    log::warn("cannot write scaling status", {{"channel", s.key}, {"error", r.error().message}});
  }
}

}  // namespace osmosis::autoscaler
