#include "operator/autoscaler/channel_scaler.hpp"

#include "common/log/logger.hpp"
#include "operator/api/conditions.hpp"
#include "operator/autoscaler/deletion_cost.hpp"
#include "operator/autoscaler/scaling_status.hpp"
#include "operator/kube/api/time_format.hpp"

namespace osmosis::autoscaler {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

bool paused(const json& channel) {
  const auto& md = channel["metadata"];
  return md.contains("annotations") && md["annotations"].is_object() &&
         md["annotations"].value(kPausedAnnotation, "") == "true";
}

bool channelReady(const json& channel) {
  const auto st = channel.find("status");  // (no copies: this runs every evaluation)
  if (st == channel.end() || !st->is_object()) return false;
  const auto conditions = st->find("conditions");
  if (conditions == st->end()) return false;
  json c = api::findCondition(*conditions, "Ready");
  return c.is_object() && c.value("status", "") == "True";
}

bool sameTarget(const api::ScaleTargetRef& a, const api::ScaleTargetRef& b) {
  return a.apiVersion == b.apiVersion && a.kind == b.kind && a.name == b.name;
}

}  // namespace

ChannelScaler::ChannelScaler(std::string ns, std::string name, ScalerDeps deps)
    : ns_(std::move(ns)), name_(std::move(name)), key_(ns_ + "/" + name_), deps_(std::move(deps)) {}

ChannelScaler::~ChannelScaler() {
  // Subscriptions first: once they are gone no callback runs.
  wakeSubs_.clear();
  reportSub_.reset();
}

bool ChannelScaler::fail(const std::string& reason, const std::string& message) {
  active_ = {"ScalingActive", "False", reason, message, generation_};
  if (message != lastProblem_) {
    log::warn("cannot scale", {{"channel", key_}, {"reason", reason}, {"error", message}});
    lastProblem_ = message;
  }
  return false;
}

void ChannelScaler::step(const json& channel, const api::ParsedChannel& parsed,
                         std::shared_ptr<nats::Client> nats) {
  const TimePoint now = deps_.clock.now();
  const bool ready = configure(channel, parsed, std::move(nats)) && observe(now);
  exportReportCounts();
  if (ready) {
    Inputs in = gather(now);
    Decision d = engine_->evaluate(in, now);
    metrics::Labels labels{{"channel", key_}};
    deps_.metrics.gauge("osmosis_backlog", "Backlog the autoscaler decided on", labels)
        .set(static_cast<double>(d.backlog.total));
    deps_.metrics.gauge("osmosis_desired_replicas", "Replicas the autoscaler wants", labels)
        .set(d.desiredReplicas);
    desired_ = d.desiredReplicas;
    if (auto learned = engine_->learnedPerPodRate(now)) {
      const auto measuredAt =
          deps_.clock.wallNow() - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                      now - learned->measuredAt);
      if (throughputWorthWriting(throughput_, learned->perPodRate, measuredAt,
                                 std::chrono::minutes(10)))
        throughput_ = throughputStatus(learned->perPodRate, kube::formatTime(measuredAt));
    }
    ScalingSituation situation;
    situation.paused = paused(channel);
    situation.hpa = hpa_;
    situation.target = target_->ref().kind + " " + target_->ref().name;
    situation.minReplicas = engine_->policy().minReplicas;
    situation.maxReplicas = engine_->policy().maxReplicas;
    situation.currentReplicas = *target_->replicas();
    situation.mode = d.mode;
    if (!situation.paused && !situation.hpa) {
      if (d.kind != DecisionKind::kNone && d.desiredReplicas != *target_->replicas())
        act(channel, d, now);
      // A failed write is said until a later step needs no change or makes one.
      situation.failure = d.kind == DecisionKind::kNone ? std::nullopt : scaleFailure_;
    }
    active_ = scalingCondition(situation, generation_);
    lastProblem_.clear();
  }
  writeStatus(channel);
}

bool ChannelScaler::configure(const json& channel, const api::ParsedChannel& parsed,
                              std::shared_ptr<nats::Client> nats) {
  const int64_t generation = channel["metadata"].value("generation", int64_t{0});
  if (generation != generation_ || !spec_) {
    if (!parsed.problems.empty() || !parsed.spec.scaleTarget) return false;
    generation_ = generation;
    Policy policy = policyFrom(parsed.spec.scaling, deps_.options.operatorPolicy);
    if (engine_) {
      if (auto st = engine_->setPolicy(policy); !st)
        return fail("InvalidPolicy", st.error().message);
    } else {
      auto e = Engine::create(policy, deps_.options.tuning);
      if (!e) return fail("InvalidPolicy", e.error().message);
      engine_.emplace(std::move(e.value()));
      // What the pods measured before this operator started: drain mode from the first burst.
      if (auto r = rememberedRate(channel.value("status", json::object()))) {
        const auto age = deps_.clock.wallNow() - r->measuredAt;
        engine_->rememberPerPodRate(r->perPodRate,
                                    deps_.clock.now() - std::chrono::duration_cast<Duration>(age));
        throughput_ = channel["status"]["throughput"];
      }
    }
    if (!target_ || !sameTarget(target_->ref(), *parsed.spec.scaleTarget)) {
      target_.emplace(deps_.client, ns_, *parsed.spec.scaleTarget);
      targetReadAt_ = hpaCheckedAt_ = podsListedAt_ = {};
      hpa_.reset();
      wakeSubs_.clear();
    }
    if (spec_ && (spec_->stream.name != parsed.spec.stream.name ||
                  spec_->consumer.durable != parsed.spec.consumer.durable)) {
      consumer_.reset();  // another stream or consumer: nothing read of the old one counts
      consumerReadAt_ = {};
    }
    spec_ = parsed.spec;
  }
  if (!channelReady(channel))
    return fail("ChannelNotReady", "waiting for the stream and consumer (condition Ready)");
  // The connection the Channel controller resolved (it reads the Secret); when that changes
  // (a rotated Secret), subscribe again on the new one.
  if (!nats) return fail("NatsUnavailable", "waiting for the Channel's NATS connection");
  if (nats != nats_) {
    reportSub_.reset();
    wakeSubs_.clear();
    nats_ = std::move(nats);
  }
  return true;
}

bool ChannelScaler::observe(TimePoint now) {
  if (!target_->replicas() || now - targetReadAt_ >= deps_.options.targetReadPeriod) {
    if (auto st = target_->read(); !st)
      return fail(
          st.error().code == Error::Code::kNotFound ? "TargetNotFound" : "TargetUnavailable",
          st.error().message);
    targetReadAt_ = now;
  }
  if (now - hpaCheckedAt_ >= deps_.options.hpaCheckPeriod) {
    if (auto list = deps_.hpas.get(ns_)) hpa_ = conflictingHpa(*list.value(), target_->ref());
    hpaCheckedAt_ = now;
  }
  if (!reportSub_) {
    inbox_ = std::make_shared<ReportInbox>(ns_, name_);
    acceptedAtPodList_ = 0;
    exported_ = {};
    auto subject = report::subjectFor(ns_, name_, deps_.options.reportSubjectPrefix);
    if (!subject) return fail("InvalidName", subject.error().message);
    auto sub =
        nats_->subscribe(subject.value(), [inbox = inbox_, poke = deps_.poke, &clock = deps_.clock](
                                              std::string_view, std::string_view data) {
          // A move that matters, or held until the pods are listed: look now. Any other
          // report waits for the tick.
          if ((inbox->offer(data, clock.now(), clock.wallNow()) && inbox->takeMoved()) ||
              inbox->unknownPodsWaiting())
            poke();
        });
    if (!sub) return fail("NatsUnavailable", sub.error().message);
    reportSub_ = std::move(sub.value());
  }
  listPods(now);
  updateWakeSubscription();
  return true;
}

// Only the target's live pods may report (issue 16, item 12). Listed at the start, when a
// report names a pod not seen yet (at most every podListMinInterval), and every podListPeriod
// while the target runs pods that report (to forget the ones that went; with no report
// accepted since the last list there is nothing to forget).
void ChannelScaler::listPods(TimePoint now) {
  const auto since = now - podsListedAt_;
  const bool first = podsListedAt_ == TimePoint{};
  const bool unknown = inbox_->unknownPodsWaiting() && since >= deps_.options.podListMinInterval;
  const uint64_t accepted = inbox_->stats().accepted;
  const bool periodic = target_->replicas().value_or(0) > 0 && since >= deps_.options.podListPeriod;
  if (!first && !unknown) {
    if (!periodic) return;
    if (accepted == acceptedAtPodList_) {
      // Nothing to forget. Counted as a list all the same, so each Channel keeps its own phase:
      // when reports start everywhere at once, lists stay spread instead of all coming due.
      podsListedAt_ = now;
      return;
    }
  }
  podsListedAt_ = now;
  acceptedAtPodList_ = accepted;
  auto pods = target_->livePods();
  deps_.metrics
      .counter("osmosis_pod_lists_total", "Pod listings to check which pods may report",
               {{"result", pods ? "ok" : "error"}})
      .inc();
  if (!pods) {
    if (pods.error().message != podsProblem_) {
      log::warn(
          "cannot list the target's pods; their reports are ignored until it can",
          {{"channel", key_}, {"selector", target_->selector()}, {"error", pods.error().message}});
      podsProblem_ = pods.error().message;
    }
    return;
  }
  podsProblem_.clear();
  inbox_->setLivePods(std::move(pods.value()));
}

// At zero nobody reports: listen on the Channel's own subjects so the first message wakes the
// target without waiting for a poll. Dropped again once pods run (it would see all traffic).
void ChannelScaler::updateWakeSubscription() {
  const int replicas = target_->replicas().value_or(-1);
  if (replicas == 0 && wakeSubs_.empty()) {
    for (const auto& subject : spec_->subjects) {
      auto sub = nats_->subscribe(
          subject, [woke = woke_, poke = deps_.poke](std::string_view, std::string_view) {
            if (!woke->exchange(true)) poke();
          });
      if (sub) wakeSubs_.push_back(std::move(sub.value()));
    }
  } else if (replicas > 0 && !wakeSubs_.empty()) {
    wakeSubs_.clear();
  }
}

Inputs ChannelScaler::gather(TimePoint now) {
  auto reports = inbox_->snapshot(now, deps_.options.forgetSilentPods);
  bool fresh = false;
  // A report claiming more work than the stream held at the last read: read again now, so
  // the engine bounds it by a current figure (rate-limited: a liar cannot flood NATS).
  bool implausible = false;
  for (const auto& r : reports) {
    fresh = fresh || now - r.receivedAt <= engine_->policy().reportStaleness;
    implausible = implausible || (r.consumer && consumer_ && consumer_->streamMessages &&
                                  r.consumer->pending > *consumer_->streamMessages);
  }
  const bool woke = woke_->exchange(false);
  if (implausible && now - consumerReadAt_ >= deps_.options.recheckInterval)
    readConsumer(now, Read::kExact);
  else if (woke || now - consumerReadAt_ >= deps_.options.consumerReadPeriod)
    readConsumer(now, Read::kConsumer);
  else if (!fresh)
    readConsumer(now, Read::kIfStreamMoved);
  Inputs in;
  in.reports = std::move(reports);
  in.consumer = consumer_;
  in.currentReplicas = *target_->replicas();
  return in;
}

std::optional<std::pair<nats::StreamState, TimePoint>> ChannelScaler::listedStream() {
  auto listing = deps_.streams.get(nats_, spec_->stream.name);
  deps_.metrics
      .counter("osmosis_stream_list_reads_total",
               "Stream states taken from the shared stream list (one list serves every Channel)",
               {{"result", listing ? "ok" : "error"}})
      .inc();
  if (!listing) return std::nullopt;  // (read directly; the error shows there if it persists)
  const auto& l = *listing.value();
  auto it = l.byName.find(spec_->stream.name);
  if (it == l.byName.end()) return std::nullopt;
  return std::pair{it->second, l.listedAt};
}

void ChannelScaler::readConsumer(TimePoint now, Read how) {
  const auto count = [&](const char* op) {
    deps_.metrics
        .counter("osmosis_nats_calls_total", "JetStream API calls made by the operator",
                 {{"op", op}})
        .inc();
  };
  auto listed = how == Read::kExact ? std::nullopt : listedStream();
  const bool newer =
      listed &&
      (!consumer_ || listed->second > consumer_->streamReadAt.value_or(consumer_->readAt));
  if (how == Read::kIfStreamMoved && listed && consumer_ && !consumerReadFailed_) {
    if (!newer) return;  // (ours are as recent as the list: evaluated again within its period)
    if (listed->first.lastSequence == consumer_->streamLastSequence &&
        consumer_->streamMessages == listed->first.messages) {
      // Nothing stored or removed since the last read, so the consumer's figures stand: a
      // delivery only moves a message from pending to ack-pending; an ack in a Limits stream
      // (which removes nothing) shows at the next due read, consumerReadPeriod at most.
      consumer_->readAt = listed->second;
      consumer_->streamReadAt = listed->second;
      return;
    }
  }
  if (!newer) listed.reset();
  auto ci = nats::requireLeader(nats_->consumerInfo(spec_->stream.name, spec_->consumer.durable));
  count("consumer.info");
  Result<nats::StreamState> stream = listed ? Result<nats::StreamState>(listed->first) : [&] {
    auto si = nats::requireLeader(nats_->streamInfo(spec_->stream.name));
    count("stream.info");
    return si ? Result<nats::StreamState>(si->state) : Result<nats::StreamState>(si.error());
  }();
  consumerReadAt_ = now;
  consumerReadFailed_ = !ci || !stream;  // (the last figures then age; never refreshed as fresh)
  if (!ci || !stream) {
    const Error& e = !ci ? ci.error() : stream.error();
    if (e.message != lastProblem_) {
      log::warn("cannot read the consumer", {{"channel", key_}, {"error", e.message}});
      lastProblem_ = e.message;
    }
    return;
  }
  ConsumerSnapshot snap;
  snap.counts = {ci->numPending, ci->numAckPending, ci->numRedelivered};
  snap.streamLastSequence = stream->lastSequence;
  snap.streamMessages = stream->messages;
  snap.readAt = now;
  if (listed) snap.streamReadAt = listed->second;
  consumer_ = snap;
}

void ChannelScaler::markDeletionCosts(TimePoint now) {
  const auto count = [&](const char* result, size_t n) {
    if (n == 0) return;
    deps_.metrics
        .counter("osmosis_pod_deletion_cost_patches_total",
                 "pod-deletion-cost annotations set before scale-downs", {{"result", result}})
        .inc(n);
  };
  auto pods = target_->podCostStates();
  if (!pods) {
    log::warn("cannot list the target's pods to mark idle ones for removal; scaling down anyway",
              {{"channel", key_}, {"error", pods.error().message}});
    count("error", 1);
    return;
  }
  const auto plan =
      planDeletionCosts(pods.value(), inbox_->snapshot(now, deps_.options.forgetSilentPods), now,
                        engine_->policy().reportStaleness);
  size_t ok = 0;
  for (const CostPatch& p : plan) {
    if (auto st = target_->setDeletionCost(p.pod, p.cost); !st) {
      log::warn("cannot set pod-deletion-cost; the ReplicaSet may remove a busy pod",
                {{"channel", key_}, {"pod", p.pod}, {"error", st.error().message}});
      count("error", 1);
    } else {
      ++ok;
    }
  }
  count("ok", ok);
}

void ChannelScaler::act(const json& channel, const Decision& d, TimePoint now) {
  const int from = *target_->replicas(), to = d.desiredReplicas;
  const std::string& target = target_->ref().name;
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  if (deps_.options.podDeletionCost && d.kind == DecisionKind::kScaledDown) markDeletionCosts(now);
  if (auto st = target_->setReplicas(to); !st) {
    std::string msg = "cannot scale " + target + " " + std::to_string(from) + " -> " +
                      std::to_string(to) + ": " + st.error().message;
    deps_.events.warning(ref, "ScaleFailed", msg);
    log::error("scale failed", {{"channel", key_},
                                {"target", target},
                                {"from", from},
                                {"to", to},
                                {"error", st.error().message}});
    scaleFailure_ = msg;
    targetReadAt_ = {};  // read it again next time
    deps_.metrics
        .counter("osmosis_scale_errors_total", "Scale subresource writes that failed",
                 {{"channel", key_}})
        .inc();
    return;
  }
  scaleFailure_.reset();
  const char* kind = kindName(d.kind);
  deps_.events.normal(ref, kind, eventMessage(target, from, to, d));
  log::info("scaled", {{"channel", key_},
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
  targetReadAt_ = now;
  updateWakeSubscription();  // at once: a message right after a scale to zero must wake it
  lastScale_ = {{"time", kube::formatTime(deps_.clock.wallNow())},
                {"from", from},
                {"to", to},
                {"reason", d.reason.substr(0, 1024)}};
  deps_.metrics
      .counter("osmosis_scaling_decisions_total", "Scale changes made",
               {{"channel", key_}, {"kind", kind}})
      .inc();
  // From the newest report (what triggered this) to the change being made.
  const TimePoint arrived = inbox_->lastArrival();
  const TimePoint done = deps_.clock.now();
  if (arrived != TimePoint{} && done - arrived < std::chrono::seconds(5)) {
    deps_.metrics
        .histogram("osmosis_scale_decision_latency_seconds",
                   "From the newest report to the scale change being written")
        .observe(std::chrono::duration<double>(done - arrived).count());
  }
}

// Server-side apply of the autoscaler's own status fields, when the cached Channel says
// otherwise.
void ChannelScaler::writeStatus(const json& channel) {
  static const json kNoStatus = json::object();
  const auto found = channel.find("status");  // (a reference: this runs every evaluation)
  const json& previous = found != channel.end() && found->is_object() ? *found : kNoStatus;
  const auto current = target_ ? target_->replicas() : std::nullopt;
  json replicas = current && desired_ ? replicasStatus(*current, *desired_) : json();
  json body = scalingStatusApply(ns_, name_, active_, replicas, lastScale_, previous,
                                 kube::formatTime(deps_.clock.wallNow()), throughput_);
  if (scalingStatusUnchanged(body, previous)) return;
  kube::PatchOptions po;
  po.fieldManager = kStatusFieldManager;
  po.force = true;
  po.subresource = "status";
  auto r = deps_.client.patch(kube::resources::channels(), ns_, name_, kube::PatchType::kApply,
                              body, po);
  if (!r && !kube::isNotFound(r.error()))
    log::warn("cannot write scaling status", {{"channel", key_}, {"error", r.error().message}});
}

// What became of the reports, as counters: a spoofing or broken sidecar shows here.
void ChannelScaler::exportReportCounts() {
  if (!inbox_) return;
  const InboxStats now = inbox_->stats();
  auto add = [&](const char* result, uint64_t InboxStats::*field) {
    const uint64_t delta = now.*field - exported_.*field;
    if (delta == 0) return;
    deps_.metrics
        .counter("osmosis_reports_total", "Sidecar reports received, by what became of them",
                 {{"channel", key_}, {"result", result}})
        .inc(delta);
  };
  add("accepted", &InboxStats::accepted);
  add("malformed", &InboxStats::malformed);
  add("mismatched", &InboxStats::mismatched);
  add("unknown_pod", &InboxStats::unknownPod);
  add("stale", &InboxStats::stale);
  add("out_of_order", &InboxStats::outOfOrder);
  if (now.lastProblem != exported_.lastProblem && !now.lastProblem.empty())
    log::debug("report refused", {{"channel", key_}, {"problem", now.lastProblem}});
  exported_ = now;
}

}  // namespace osmosis::autoscaler
