#include "operator/channel/reconciler.hpp"

#include "operator/channel/conditions.hpp"
#include "operator/channel/drift.hpp"
#include "operator/channel/naming.hpp"
#include "operator/kube/api/time_format.hpp"

namespace osmosis::channel {

using nlohmann::json;

struct ChannelReconciler::Outcome {
  int64_t generation = 0;
  Condition stream{"StreamReady", "Unknown", "Pending", "not reconciled yet", 0};
  Condition consumer{"ConsumerReady", "Unknown", "Pending", "not reconciled yet", 0};
  std::optional<Condition> blocked;  // a reason Ready is False before NATS is even asked
  std::optional<nats::StreamInfo> streamInfo;
  std::optional<nats::ConsumerInfo> consumerInfo;
  std::optional<Error> retry;            // a failure worth retrying with backoff
  std::optional<std::string> sidecarIn;  // "Kind/name" injected into; "" none; unset: unchanged
};

namespace {

bool hasFinalizer(const json& obj) {
  const auto& md = obj["metadata"];
  if (!md.contains("finalizers") || !md["finalizers"].is_array()) return false;
  for (const auto& f : md["finalizers"]) {
    if (f == kFinalizer) return true;
  }
  return false;
}

std::string natsReason(const Error& e) {
  switch (e.code) {
    case Error::Code::kUnauthenticated:
    case Error::Code::kPermissionDenied:
      return "NatsAuthFailed";
    case Error::Code::kInvalidArgument:
      return "NatsConfigInvalid";
    case Error::Code::kNotFound:
      return "NatsSecretNotFound";
    default:
      return "NatsUnavailable";
  }
}

// Channels compete for subjects only on the same NATS (same Secret, or both the default).
std::string natsIdentity(const std::string& ns, const ChannelSpec& s) {
  return s.natsSecret.empty() ? "" : ns + "/" + s.natsSecret;
}

bool conditionTrue(const json& status, const std::string& type) {
  json c = findCondition(status.value("conditions", json()), type);
  return c.is_object() && c.value("status", "") == "True";
}

}  // namespace

ChannelReconciler::ChannelReconciler(kube::Client& client, const kube::Store& channels,
                                     NatsConnections& nats, kube::EventRecorder& events,
                                     metrics::Registry& metrics, ReconcilerOptions options,
                                     const kube::Clock& clock)
    : client_(client),
      channels_(channels),
      nats_(nats),
      events_(events),
      metrics_(metrics),
      options_(options),
      clock_(clock) {}

bool ChannelReconciler::seen(const std::set<std::string>& set, const std::string& key) {
  std::lock_guard lock(seenMu_);
  return set.count(key) > 0;
}

void ChannelReconciler::remember(std::set<std::string>& set, const std::string& key) {
  std::lock_guard lock(seenMu_);
  set.insert(key);
}

void ChannelReconciler::natsCall(const char* op, bool ok) {
  metrics_
      .counter("osmosis_nats_calls_total", "JetStream API calls made by the operator", {{"op", op}})
      .inc();
  if (!ok) {
    metrics_
        .counter("osmosis_nats_call_errors_total", "JetStream API calls that failed", {{"op", op}})
        .inc();
  }
}

Result<kube::ReconcileResult> ChannelReconciler::reconcile(const kube::Request& req,
                                                           const kube::ReconcileLog& log) {
  kube::ObjectPtr cached = channels_.get(req.key());
  if (!cached) return kube::ReconcileResult{};  // gone: nothing to do (the finalizer ran before)
  const json& channel = *cached;
  if (channel["metadata"].contains("deletionTimestamp")) return finalize(channel, log);
  if (!hasFinalizer(channel)) {
    if (auto st = ensureFinalizer(channel); !st) return st.error();
    return kube::ReconcileResult{};  // the update comes back through the informer
  }

  Outcome out;
  out.generation = channel["metadata"].value("generation", int64_t{0});
  out.stream.observedGeneration = out.consumer.observedGeneration = out.generation;
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  ParsedChannel parsed = parseChannel(channel);

  if (!parsed.problems.empty()) {
    std::string msg = describe(parsed.problems);
    out.blocked = Condition{"Ready", "False", "InvalidSpec", msg, out.generation};
    events_.warning(ref, "InvalidSpec", msg);
    log.warn("invalid Channel", {{"problems", msg}});
  } else if (auto owned = subjectPolicyProblems(req.ns, parsed.spec, options_.subjectPolicy);
             !owned.empty()) {
    std::string msg = describe(owned);
    out.blocked = Condition{"Ready", "False", "SubjectNotPermitted", msg, out.generation};
    events_.warning(ref, "SubjectNotPermitted", msg);
    log.warn("Channel uses subjects outside its namespace", {{"problems", msg}});
  } else if (auto conflict = subjectConflict(channel)) {
    out.blocked = Condition{"Ready", "False", "SubjectConflict", *conflict, out.generation};
    events_.warning(ref, "SubjectConflict", *conflict);
  } else {
    std::optional<SecretConnection> secret;
    auto js = resolveNats(req.ns, parsed.spec.natsSecret, &secret);
    if (!js) {
      std::string reason = natsReason(js.error());
      out.blocked = Condition{"Ready", "False", reason, js.error().message, out.generation};
      events_.warning(ref, reason, js.error().message);
      // A broken Secret or option will not fix itself: the next resync (or an edit) retries.
      if (js.error().code != Error::Code::kInvalidArgument &&
          js.error().code != Error::Code::kNotFound)
        out.retry = js.error();
    } else {
      nats_.bind(req.key(), js.value());
      reconcileStream(*js.value(), channel, parsed.spec, out, log);
      if (out.stream.status == "True")
        reconcileConsumer(*js.value(), channel, parsed.spec, out, log);
      reconcileInjection(channel, parsed.spec, secret ? secret->keys : std::set<std::string>{}, out,
                         log);
    }
  }

  if (auto st = writeStatus(channel, out); !st) return st.error();
  if (out.retry) return *out.retry;
  return kube::ReconcileResult{false, options_.resync};
}

// The connection a Channel uses: the operator's default, or its Secret's (read here, the only
// place Secrets are read).
Result<std::shared_ptr<nats::JetStream>> ChannelReconciler::resolveNats(
    const std::string& ns, const std::string& secretName, std::optional<SecretConnection>* read) {
  if (secretName.empty()) return nats_.get(std::nullopt);
  auto secret = readNatsSecret(client_, ns, secretName);
  if (!secret) return secret.error();
  if (read != nullptr) *read = secret.value();
  return nats_.get(secret.value());
}

Status ChannelReconciler::ensureFinalizer(const json& channel) {
  json finalizers = channel["metadata"].value("finalizers", json::array());
  finalizers.push_back(kFinalizer);
  json patch = {{"metadata",
                 {{"finalizers", finalizers},
                  {"resourceVersion", channel["metadata"].value("resourceVersion", "")}}}};
  auto r = client_.patch(kube::resources::channels(), channel["metadata"].value("namespace", ""),
                         channel["metadata"].value("name", ""), kube::PatchType::kMerge, patch);
  if (!r) return r.error();
  return {};
}

Result<kube::ReconcileResult> ChannelReconciler::finalize(const json& channel,
                                                          const kube::ReconcileLog& log) {
  if (!hasFinalizer(channel)) return kube::ReconcileResult{};
  const std::string ns = channel["metadata"].value("namespace", "");
  const std::string name = channel["metadata"].value("name", "");
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  ParsedChannel parsed = parseChannel(channel);
  const std::string stream = streamName(ns, name);
  if (parsed.spec.deleteStreamOnDelete) {
    auto js = resolveNats(ns, parsed.spec.natsSecret, nullptr);
    if (!js && js.error().code != Error::Code::kNotFound &&
        js.error().code != Error::Code::kInvalidArgument) {
      events_.warning(ref, "DeleteFailed",
                      "cannot delete stream " + stream + ": " + js.error().message);
      return js.error();  // NATS down: keep the finalizer and retry with backoff
    }
    if (!js) {
      // The Secret is gone or broken (often deleted with the namespace): blocking deletion for
      // ever would be worse than leaving the stream; say so loudly.
      events_.warning(ref, "StreamLeft",
                      "stream " + stream + " was not deleted: " + js.error().message);
      log.warn("stream left on the server", {{"stream", stream}, {"error", js.error().message}});
    } else {
      Status st = js.value()->deleteStream(stream);
      natsCall("stream.delete", st.ok() || st.error().code == Error::Code::kNotFound);
      if (!st && st.error().code != Error::Code::kNotFound) {
        events_.warning(ref, "DeleteFailed", st.error().message);
        return st.error();
      }
      events_.normal(ref, "StreamDeleted", "stream " + stream + " deleted (deletionPolicy Delete)");
      log.info("stream deleted", {{"stream", stream}});
    }
  } else {
    events_.normal(ref, "StreamRetained",
                   "stream " + stream + " kept with its messages (deletionPolicy Retain)");
    log.info("stream retained", {{"stream", stream}});
  }
  nats_.unbind(kube::keyOf(channel));
  {
    std::lock_guard lock(seenMu_);
    seenStreams_.erase(kube::keyOf(channel));
    seenConsumers_.erase(kube::keyOf(channel));
  }
  {
    std::lock_guard lock(subjectsMu_);
    claims_.erase(kube::keyOf(channel));
  }
  json finalizers = json::array();
  for (const auto& f : channel["metadata"].value("finalizers", json::array())) {
    if (f != kFinalizer) finalizers.push_back(f);
  }
  json patch = {{"metadata",
                 {{"finalizers", finalizers},
                  {"resourceVersion", channel["metadata"].value("resourceVersion", "")}}}};
  auto r = client_.patch(kube::resources::channels(), ns, name, kube::PatchType::kMerge, patch);
  if (!r && !kube::isNotFound(r.error())) return r.error();
  return kube::ReconcileResult{};
}

// The subject claim of a Channel, parsed once per resourceVersion: every reconcile looks at
// every other Channel, and parsing them all each time is O(N^2) parses. Invalid, refused or
// deleting Channels claim nothing.
std::optional<SubjectClaim> ChannelReconciler::claimOf(const json& obj) const {
  const std::string key = kube::keyOf(obj);
  const std::string rv = obj["metadata"].value("resourceVersion", "");
  {
    std::lock_guard lock(subjectsMu_);
    if (auto it = claims_.find(key); it != claims_.end() && it->second.resourceVersion == rv)
      return it->second.claim;
  }
  CachedClaim cached;
  cached.resourceVersion = rv;
  const std::string ns = obj["metadata"].value("namespace", "");
  ParsedChannel o = parseChannel(obj);
  if (o.problems.empty() && subjectPolicyProblems(ns, o.spec, options_.subjectPolicy).empty()) {
    cached.claim = SubjectClaim{key, obj["metadata"].value("creationTimestamp", ""),
                                natsIdentity(ns, o.spec), o.spec.subjects};
  }
  std::lock_guard lock(subjectsMu_);
  claims_[key] = cached;
  return cached.claim;
}

std::optional<std::string> ChannelReconciler::subjectConflict(const json& channel) const {
  std::vector<SubjectClaim> claims;
  for (const auto& other : channels_.list()) {
    if ((*other)["metadata"].contains("deletionTimestamp")) continue;
    if (auto claim = claimOf(*other)) claims.push_back(std::move(*claim));
  }
  return channel::subjectConflict(kube::keyOf(channel), claims);
}

void ChannelReconciler::reconcileStream(nats::JetStream& js, const json& channel,
                                        const ChannelSpec& spec, Outcome& out,
                                        const kube::ReconcileLog& log) {
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  const json& status = channel.value("status", json::object());
  auto have = js.streamInfo(spec.stream.name);
  natsCall("stream.info", have.ok() || have.error().code == Error::Code::kNotFound);
  auto fail = [&](const char* reason, const Error& e) {
    out.stream = {"StreamReady", "False", reason, e.message, out.generation};
    events_.warning(ref, reason, e.message);
    log.warn("stream not ready",
             {{"stream", spec.stream.name}, {"reason", reason}, {"error", e.message}});
    if (e.code == Error::Code::kUnavailable || e.code == Error::Code::kTimeout) out.retry = e;
  };
  if (!have && have.error().code != Error::Code::kNotFound)
    return fail("NatsUnavailable", have.error());
  if (!have) {
    auto created = js.addStream(spec.stream);
    natsCall("stream.create", created.ok());
    if (!created) return fail("StreamCreateFailed", created.error());
    bool existedBefore =
        conditionTrue(status, "StreamReady") || seen(seenStreams_, kube::keyOf(channel));
    const char* reason = existedBefore ? "StreamRecreated" : "StreamCreated";
    std::string msg =
        existedBefore
            ? "stream " + spec.stream.name +
                  " was missing on the server (deleted, or lost in a NATS restart); recreated"
            : "stream " + spec.stream.name + " created on subjects " + spec.subjects.front() +
                  (spec.subjects.size() > 1 ? " and more" : "");
    (existedBefore ? events_.warning(ref, reason, msg) : events_.normal(ref, reason, msg));
    log.info(msg, {{"stream", spec.stream.name}});
    out.streamInfo = created.value();
  } else {
    auto changes = streamDrift(spec.stream, have->config);
    if (anyImmutable(changes)) {
      std::string msg =
          "stream " + spec.stream.name + " cannot be changed in place (" + describe(changes) +
          "); delete and re-create the Channel to change it (its messages would be lost)";
      out.stream = {"StreamReady", "False", "ImmutableFieldChanged", msg, out.generation};
      events_.warning(ref, "ImmutableFieldChanged", msg);
      return;
    }
    if (!changes.empty()) {
      auto updated = js.updateStream(spec.stream);
      natsCall("stream.update", updated.ok());
      if (!updated) return fail("StreamUpdateFailed", updated.error());
      // Same generation as last time: the server changed, not the Channel.
      bool drift = status.value("observedGeneration", int64_t{-1}) == out.generation;
      const char* reason = drift ? "StreamDriftRepaired" : "StreamUpdated";
      std::string msg = "stream " + spec.stream.name + ": " + describe(changes);
      (drift ? events_.warning(ref, reason, msg) : events_.normal(ref, reason, msg));
      log.info(msg, {{"stream", spec.stream.name}, {"reason", reason}});
      out.streamInfo = updated.value();
    } else {
      out.streamInfo = have.value();
    }
  }
  out.stream = {"StreamReady", "True", "Ready", "stream " + spec.stream.name + " matches the spec",
                out.generation};
  remember(seenStreams_, kube::keyOf(channel));
}

void ChannelReconciler::reconcileConsumer(nats::JetStream& js, const json& channel,
                                          const ChannelSpec& spec, Outcome& out,
                                          const kube::ReconcileLog& log) {
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  const json& status = channel.value("status", json::object());
  const std::string& stream = spec.stream.name;
  const std::string& name = spec.consumer.durable;
  auto have = js.consumerInfo(stream, name);
  natsCall("consumer.info", have.ok() || have.error().code == Error::Code::kNotFound);
  auto fail = [&](const char* reason, const Error& e) {
    out.consumer = {"ConsumerReady", "False", reason, e.message, out.generation};
    events_.warning(ref, reason, e.message);
    log.warn("consumer not ready", {{"consumer", name}, {"reason", reason}, {"error", e.message}});
    if (e.code == Error::Code::kUnavailable || e.code == Error::Code::kTimeout) out.retry = e;
  };
  if (!have && have.error().code != Error::Code::kNotFound)
    return fail("NatsUnavailable", have.error());
  if (!have) {
    auto created = js.addOrUpdateConsumer(stream, spec.consumer);
    natsCall("consumer.create", created.ok());
    if (!created) return fail("ConsumerCreateFailed", created.error());
    bool existedBefore =
        conditionTrue(status, "ConsumerReady") || seen(seenConsumers_, kube::keyOf(channel));
    std::string msg = existedBefore
                          ? "consumer " + name + " was missing on stream " + stream + "; recreated"
                          : "consumer " + name + " created on stream " + stream;
    (existedBefore ? events_.warning(ref, "ConsumerRecreated", msg)
                   : events_.normal(ref, "ConsumerCreated", msg));
    log.info(msg, {{"consumer", name}});
    out.consumerInfo = created.value();
  } else {
    auto changes = consumerDrift(spec.consumer, have->config);
    out.consumerInfo = have.value();
    if (!changes.empty()) {
      auto updated = js.addOrUpdateConsumer(stream, spec.consumer);
      natsCall("consumer.update", updated.ok());
      if (updated) {
        bool drift = status.value("observedGeneration", int64_t{-1}) == out.generation;
        std::string msg = "consumer " + name + ": " + describe(changes);
        (drift ? events_.warning(ref, "ConsumerDriftRepaired", msg)
               : events_.normal(ref, "ConsumerUpdated", msg));
        out.consumerInfo = updated.value();
      } else if (updated.error().code == Error::Code::kUnavailable ||
                 updated.error().code == Error::Code::kTimeout) {
        return fail("NatsUnavailable", updated.error());
      } else if (have->numAckPending == 0) {
        // The server refuses the change in place. With nothing in flight, re-creating the
        // durable consumer loses nothing: unacked messages stay in the stream.
        Status del = js.deleteConsumer(stream, name);
        natsCall("consumer.delete", del.ok());
        auto created = del ? js.addOrUpdateConsumer(stream, spec.consumer)
                           : Result<nats::ConsumerInfo>(del.error());
        natsCall("consumer.create", created.ok());
        if (!created) return fail("ConsumerRecreateFailed", created.error());
        std::string msg = "consumer " + name + " re-created to apply " + describe(changes) +
                          " (the server refused the change in place: " + updated.error().message +
                          ")";
        events_.normal(ref, "ConsumerRecreated", msg);
        log.info(msg, {{"consumer", name}});
        out.consumerInfo = created.value();
      } else {
        std::string msg = "consumer " + name + " needs re-creating to apply " + describe(changes) +
                          " (" + updated.error().message +
                          "); waiting until no message is in flight (" +
                          std::to_string(have->numAckPending) + " now)";
        out.consumer = {"ConsumerReady", "False", "UpdateBlocked", msg, out.generation};
        events_.warning(ref, "UpdateBlocked", msg);
        return;
      }
    }
  }
  out.consumer = {"ConsumerReady", "True", "Ready", "consumer " + name + " matches the spec",
                  out.generation};
  remember(seenConsumers_, kube::keyOf(channel));
}

// Puts osmosis-sidecar into the scale target's pod template while spec.worker.injectSidecar
// asks for it, and takes it out (from the target it went into) when it no longer does.
void ChannelReconciler::reconcileInjection(const json& channel, const ChannelSpec& spec,
                                           const std::set<std::string>& secretKeys, Outcome& out,
                                           const kube::ReconcileLog& log) {
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  const std::string ns = channel["metadata"].value("namespace", "");
  const std::string was = channel.value("status", json::object()).value("sidecarInjectedInto", "");
  kube::PatchOptions po;
  po.fieldManager = kInjectorFieldManager;
  po.force = true;
  const std::string want = spec.injectSidecar && spec.scaleTarget
                               ? spec.scaleTarget->kind + "/" + spec.scaleTarget->name
                               : "";
  if (!was.empty() && was != want) {
    ScaleTargetRef old{"apps/v1", was.substr(0, was.find('/')), was.substr(was.find('/') + 1)};
    auto res = client_.resourceFor(old.apiVersion, old.kind);
    auto r = res ? client_.patch(res.value(), ns, old.name, kube::PatchType::kApply,
                                 injectionRemoval(old, ns), po)
                 : Result<json>(res.error());
    if (!r && !kube::isNotFound(r.error())) {
      events_.warning(ref, "SidecarRemovalFailed",
                      "cannot remove osmosis-sidecar from " + was + ": " + r.error().message);
      return;
    }
    events_.normal(ref, "SidecarRemoved",
                   "osmosis-sidecar removed from the pod template of " + was);
    log.info("sidecar removed", {{"target", was}});
    out.sidecarIn = "";
  }
  if (want.empty()) return;
  const ScaleTargetRef& target = *spec.scaleTarget;
  if (!injectable(target)) {
    events_.warning(ref, "InjectionUnsupported",
                    target.apiVersion + " " + target.kind +
                        " has no pod template Osmosis knows; add osmosis-sidecar by hand "
                        "(docs/autoscaler.md)");
    return;
  }
  if (!nativeSidecars_) {
    auto v = client_.serverVersion();
    if (v) nativeSidecars_ = supportsNativeSidecars(v.value());
  }
  InjectionSettings settings = options_.injection;
  settings.nativeSidecar = nativeSidecars_.value_or(false);
  auto res = client_.resourceFor(target.apiVersion, target.kind);
  auto r = res ? client_.patch(res.value(), ns, target.name, kube::PatchType::kApply,
                               injectionApply(target, ns, ref.name, spec, secretKeys, settings), po)
               : Result<json>(res.error());
  if (!r) {
    std::string msg = "cannot add osmosis-sidecar to " + want + ": " + r.error().message;
    events_.warning(ref, "InjectionFailed", msg);
    log.warn("sidecar injection failed", {{"target", want}, {"error", r.error().message}});
    return;
  }
  if (was != want) {
    events_.normal(ref, "SidecarInjected",
                   "osmosis-sidecar added to the pod template of " + want + " (" +
                       (settings.nativeSidecar ? "native sidecar" : "container") + ")");
    log.info("sidecar injected", {{"target", want}, {"native", settings.nativeSidecar}});
  }
  out.sidecarIn = want;
}

Status ChannelReconciler::writeStatus(const json& channel, const Outcome& out) {
  const std::string now = kube::formatTime(clock_.wallNow());
  json old = channel.value("status", json::object());
  json status = old;
  const std::string ns = channel["metadata"].value("namespace", "");
  const std::string name = channel["metadata"].value("name", "");
  ParsedChannel parsed = parseChannel(channel);

  Condition ready{"Ready", "True", "Provisioned", "stream and consumer are ready", out.generation};
  Condition streamCond = out.stream, consumerCond = out.consumer;
  if (out.blocked) {
    ready = *out.blocked;
    streamCond = {"StreamReady", "Unknown", out.blocked->reason,
                  "not reconciled: " + out.blocked->reason, out.generation};
    consumerCond = {"ConsumerReady", "Unknown", out.blocked->reason,
                    "not reconciled: " + out.blocked->reason, out.generation};
  } else if (out.stream.status != "True") {
    ready = {"Ready", "False", out.stream.reason, out.stream.message, out.generation};
    consumerCond = {"ConsumerReady", "Unknown", "StreamNotReady", "waiting for the stream",
                    out.generation};
  } else if (out.consumer.status != "True") {
    ready = {"Ready", "False", out.consumer.reason, out.consumer.message, out.generation};
  }
  json conditions = old.value("conditions", json::array());
  conditions = setCondition(conditions, ready, now);
  conditions = setCondition(conditions, streamCond, now);
  conditions = setCondition(conditions, consumerCond, now);
  status["conditions"] = conditions;
  status["observedGeneration"] = out.generation;
  status["stream"] = streamName(ns, name);
  status["consumer"] = kConsumerName;
  status["subjects"] = parsed.spec.subjects;
  if (out.consumerInfo) {
    const auto& c = *out.consumerInfo;
    status["pending"] = c.numPending;
    status["ackPending"] = c.numAckPending;
    status["backlog"] = static_cast<int64_t>(c.numPending) + c.numAckPending;
    status["redelivered"] = c.numRedelivered;
  }
  if (out.streamInfo) {
    status["streamMessages"] = out.streamInfo->state.messages;
    status["streamBytes"] = out.streamInfo->state.bytes;
  }
  // Only this reconciler's fields go in the patch: the autoscaler owns replicas, lastScale and
  // the ScalingActive condition (kept as the cache has it). Skip the write when nothing but
  // the time would change (a resync of an idle Channel).
  json mine = json::object(), before = json::object();
  for (const char* key :
       {"conditions", "observedGeneration", "stream", "consumer", "subjects", "pending",
        "ackPending", "backlog", "redelivered", "streamMessages", "streamBytes"}) {
    if (status.contains(key)) mine[key] = status[key];
    if (old.contains(key)) before[key] = old[key];
  }
  if (old.contains("sidecarInjectedInto"))
    before["sidecarInjectedInto"] = old["sidecarInjectedInto"];
  if (out.sidecarIn && !out.sidecarIn->empty()) mine["sidecarInjectedInto"] = *out.sidecarIn;
  if (!out.sidecarIn && before.contains("sidecarInjectedInto"))
    mine["sidecarInjectedInto"] = before["sidecarInjectedInto"];
  if (mine == before) return {};
  // Merge patch: null removes the field.
  if (!mine.contains("sidecarInjectedInto") && before.contains("sidecarInjectedInto"))
    mine["sidecarInjectedInto"] = nullptr;
  if (out.consumerInfo) mine["lastBacklogTime"] = now;
  auto r = client_.patch(kube::resources::channels(), ns, name, kube::PatchType::kMerge,
                         {{"status", mine}}, [] {
                           kube::PatchOptions o;
                           o.subresource = "status";
                           return o;
                         }());
  if (!r && !kube::isNotFound(r.error())) return r.error();
  return {};
}

}  // namespace osmosis::channel
