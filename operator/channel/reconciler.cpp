#include "operator/channel/reconciler.hpp"

#include "operator/api/naming.hpp"
#include "operator/kube/api/time_format.hpp"

namespace osmosis::channel {

using nlohmann::json;

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

bool transient(const Error& e) {
  return e.code == Error::Code::kUnavailable || e.code == Error::Code::kTimeout;
}

// Channels compete for subjects only on the same NATS (same Secret, or both the default).
std::string natsIdentity(const std::string& ns, const api::ChannelSpec& s) {
  return s.natsSecret.empty() ? "" : ns + "/" + s.natsSecret;
}

bool conditionTrue(const json& status, const std::string& type) {
  json c = api::findCondition(status.value("conditions", json()), type);
  return c.is_object() && c.value("status", "") == "True";
}

}  // namespace

ChannelReconciler::ChannelReconciler(kube::Client& client, const kube::StoreReader& channels,
                                     api::ParsedChannels& parsed, natspool::NatsConnections& nats,
                                     kube::EventRecorder& events, metrics::Registry& metrics,
                                     ReconcilerOptions options, const kube::Clock& clock)
    : client_(client),
      channels_(channels),
      parsed_(parsed),
      nats_(nats),
      events_(events),
      metrics_(metrics),
      options_(std::move(options)),
      clock_(clock) {}

void ChannelReconciler::remember(std::set<std::string>& set, const std::string& key) {
  std::lock_guard lock(seenMu_);
  set.insert(key);
}

History ChannelReconciler::history(const json& channel, const char* condition,
                                   const std::set<std::string>& seen, int64_t generation) {
  const json status = channel.value("status", json::object());
  History h;
  {
    std::lock_guard lock(seenMu_);
    h.existedBefore = conditionTrue(status, condition) || seen.count(kube::keyOf(channel)) > 0;
  }
  h.generationObserved = status.value("observedGeneration", int64_t{-1}) == generation;
  return h;
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
  if (!cached) {
    parsed_.forget(req.key());
    return kube::ReconcileResult{};  // gone: nothing to do (the finalizer ran before)
  }
  const json& channel = *cached;
  if (channel["metadata"].contains("deletionTimestamp")) return finalize(channel, log);
  if (!hasFinalizer(channel)) {
    if (auto st = ensureFinalizer(channel); !st) return st.error();
    return kube::ReconcileResult{};  // the update comes back through the informer
  }
  const int64_t generation = channel["metadata"].value("generation", int64_t{0});
  auto parsed = parsed_.get(channel);
  Pass pass{channel, parsed->spec, kube::ObjectRef::from(channel), log, {}, {}};
  pass.out.generation = pass.out.stream.observedGeneration = pass.out.consumer.observedGeneration =
      generation;
  if (auto why = refusal(channel, *parsed, generation)) {
    pass.out.blocked = *why;
    events_.warning(pass.ref, why->reason, why->message);
    log.warn("Channel refused", {{"reason", why->reason}, {"problems", why->message}});
  } else {
    std::optional<natspool::SecretConnection> secret;
    auto js = resolveNats(req.ns, parsed->spec.natsSecret, &secret);
    if (!js) {
      const std::string reason = natsReason(js.error());
      pass.out.blocked = api::Condition{"Ready", "False", reason, js.error().message, generation};
      events_.warning(pass.ref, reason, js.error().message);
      // A broken Secret or option will not fix itself: the next resync (or an edit) retries.
      if (js.error().code != Error::Code::kInvalidArgument &&
          js.error().code != Error::Code::kNotFound)
        pass.retry = js.error();
    } else {
      nats_.bind(req.key(), js.value());
      ensureStream(*js.value(), pass);
      if (pass.out.stream.status == "True") ensureConsumer(*js.value(), pass);
      ensureResults(*js.value(), pass);
      ensureInjection(secret ? secret->keys : std::set<std::string>{}, pass);
    }
  }
  if (auto st = writeStatus(channel, parsed->spec, pass.out); !st) return st.error();
  if (pass.retry) return *pass.retry;
  return kube::ReconcileResult{false, options_.resync};
}

std::optional<api::Condition> ChannelReconciler::refusal(const json& channel,
                                                         const api::ParsedChannel& parsed,
                                                         int64_t generation) {
  const std::string ns = channel["metadata"].value("namespace", "");
  if (!parsed.problems.empty())
    return api::Condition{"Ready", "False", "InvalidSpec", api::describe(parsed.problems),
                          generation};
  if (auto owned = api::subjectPolicyProblems(ns, parsed.spec, options_.subjectPolicy);
      !owned.empty())
    return api::Condition{"Ready", "False", "SubjectNotPermitted", api::describe(owned),
                          generation};
  if (auto conflict = subjectConflict(channel))
    return api::Condition{"Ready", "False", "SubjectConflict", *conflict, generation};
  return std::nullopt;
}

// Every valid, permitted Channel that is not being deleted claims its subjects; the oldest
// claim wins (subject_claims.hpp). Parses come from the cache, once per object version; the
// conflicts are worked out for all Channels at once, again only when a claim changed (a
// status write moves the store's revision but no claim).
std::optional<std::string> ChannelReconciler::subjectConflict(const json& channel) {
  const std::string key = kube::keyOf(channel);
  std::lock_guard lock(conflictsMu_);
  const uint64_t revision = channels_.revision();
  if (revision != conflictsRevision_) {
    auto claims = subjectClaims();
    std::string printed;
    for (const auto& c : claims) {
      printed += c.key + ' ' + c.creationTimestamp + ' ' + c.natsIdentity;
      for (const auto& s : c.subjects)
        printed += ' ' + s;
      printed += '\n';
    }
    if (printed != conflictsClaims_) {
      conflicts_ = api::subjectConflicts(claims);
      conflictsClaims_ = std::move(printed);
    }
    conflictsRevision_ = revision;
  }
  if (auto it = conflicts_.find(key); it != conflicts_.end()) return it->second;
  return std::nullopt;
}

std::vector<api::SubjectClaim> ChannelReconciler::subjectClaims() {
  std::vector<api::SubjectClaim> claims;
  for (const auto& other : channels_.list()) {
    const json& md = (*other)["metadata"];
    if (md.contains("deletionTimestamp")) continue;
    auto p = parsed_.get(*other);
    const std::string ns = md.value("namespace", "");
    if (!p->problems.empty() ||
        !api::subjectPolicyProblems(ns, p->spec, options_.subjectPolicy).empty())
      continue;
    claims.push_back({kube::keyOf(*other), md.value("creationTimestamp", ""),
                      natsIdentity(ns, p->spec), p->spec.subjects});
  }
  return claims;
}

// The connection a Channel uses: the operator's default, or its Secret's (read here, the only
// place Secrets are read).
Result<std::shared_ptr<nats::Client>> ChannelReconciler::resolveNats(
    const std::string& ns, const std::string& secretName,
    std::optional<natspool::SecretConnection>* read) {
  if (secretName.empty()) return nats_.get(std::nullopt);
  auto secret = natspool::readNatsSecret(client_, ns, secretName);
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
  const std::string key = kube::keyOf(channel);
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  auto parsed = parsed_.get(channel);
  const std::string stream = api::streamName(ns, name);
  const json prevStatus = channel.value("status", json::object());
  const ResultsOnDeletion results = resultsOnDeletion(parsed->spec, prevStatus, madeResults(key));
  std::optional<Result<std::shared_ptr<nats::Client>>> js;
  if (parsed->spec.deleteStreamOnDelete || results != ResultsOnDeletion::kSkip) {
    js = resolveNats(ns, parsed->spec.natsSecret, nullptr);
    const bool mustReach = parsed->spec.deleteStreamOnDelete || results == ResultsOnDeletion::kMust;
    if (!*js && mustReach && js->error().code != Error::Code::kNotFound &&
        js->error().code != Error::Code::kInvalidArgument) {
      const std::string what = parsed->spec.deleteStreamOnDelete
                                   ? "stream " + stream
                                   : "results stream " + api::resultsStreamName(ns, name);
      events_.warning(ref, "DeleteFailed", "cannot delete " + what + ": " + js->error().message);
      return js->error();  // NATS down: keep the finalizer and retry with backoff
    }
  }
  if (parsed->spec.deleteStreamOnDelete) {
    if (!*js) {
      // The Secret is gone or broken (often deleted with the namespace): blocking deletion for
      // ever would be worse than leaving the stream; say so loudly.
      events_.warning(ref, "StreamLeft",
                      "stream " + stream + " was not deleted: " + js->error().message);
      log.warn("stream left on the server", {{"stream", stream}, {"error", js->error().message}});
    } else {
      Status st = js->value()->deleteStream(stream);
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
  if (results != ResultsOnDeletion::kSkip) {
    if (auto st = deleteResults(channel, parsed->spec, &*js, log); !st) return st.error();
  }
  nats_.unbind(key);
  {
    std::lock_guard lock(seenMu_);
    seenStreams_.erase(key);
    seenConsumers_.erase(key);
    seenResults_.erase(key);
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
  parsed_.forget(key);
  return kube::ReconcileResult{};
}

void ChannelReconciler::tell(Pass& pass, const Plan& plan) {
  if (plan.lost || plan.drift) {
    events_.warning(pass.ref, plan.reason, plan.message);
  } else {
    events_.normal(pass.ref, plan.reason, plan.message);
  }
  pass.log.info(plan.message, {{"reason", plan.reason}});
}

void ChannelReconciler::ensureStream(nats::Client& js, Pass& pass) {
  const nats::StreamConfig& want = pass.spec.stream;
  auto fail = [&](const char* reason, const Error& e) {
    pass.out.stream = {"StreamReady", "False", reason, e.message, pass.out.generation};
    events_.warning(pass.ref, reason, e.message);
    pass.log.warn("stream not ready",
                  {{"stream", want.name}, {"reason", reason}, {"error", e.message}});
    if (transient(e)) pass.retry = e;
  };
  auto have = js.streamInfo(want.name);
  natsCall("stream.info", have.ok() || have.error().code == Error::Code::kNotFound);
  if (!have && have.error().code != Error::Code::kNotFound)
    return fail("NatsUnavailable", have.error());
  const Plan plan =
      planStream(want, have ? std::optional(have->config) : std::nullopt,
                 history(pass.channel, "StreamReady", seenStreams_, pass.out.generation));
  switch (plan.action) {
    case Action::kNone:
      if (!have->leaderless) pass.out.streamInfo = have.value();
      break;
    case Action::kRefuse:
      pass.out.stream = {"StreamReady", "False", plan.reason, plan.message, pass.out.generation};
      events_.warning(pass.ref, plan.reason, plan.message);
      return;
    case Action::kCreate:
    case Action::kUpdate: {
      const bool create = plan.action == Action::kCreate;
      auto done = create ? js.addStream(want) : js.updateStream(want);
      natsCall(create ? "stream.create" : "stream.update", done.ok());
      if (!done) return fail(create ? "StreamCreateFailed" : "StreamUpdateFailed", done.error());
      tell(pass, plan);
      pass.out.streamInfo = done.value();
      break;
    }
  }
  pass.out.stream = {"StreamReady", "True", "Ready", "stream " + want.name + " matches the spec",
                     pass.out.generation};
  remember(seenStreams_, kube::keyOf(pass.channel));
}

void ChannelReconciler::ensureConsumer(nats::Client& js, Pass& pass) {
  const std::string& stream = pass.spec.stream.name;
  const nats::ConsumerConfig& want = pass.spec.consumer;
  auto fail = [&](const char* reason, const Error& e) {
    pass.out.consumer = {"ConsumerReady", "False", reason, e.message, pass.out.generation};
    events_.warning(pass.ref, reason, e.message);
    pass.log.warn("consumer not ready",
                  {{"consumer", want.durable}, {"reason", reason}, {"error", e.message}});
    if (transient(e)) pass.retry = e;
  };
  auto have = js.consumerInfo(stream, want.durable);
  natsCall("consumer.info", have.ok() || have.error().code == Error::Code::kNotFound);
  if (!have && have.error().code != Error::Code::kNotFound)
    return fail("NatsUnavailable", have.error());
  const Plan plan =
      planConsumer(stream, want, have ? std::optional(have->config) : std::nullopt,
                   history(pass.channel, "ConsumerReady", seenConsumers_, pass.out.generation));
  if (have && !have->leaderless) pass.out.consumerInfo = have.value();  // (figures: a leader's)
  if (plan.action != Action::kNone) {
    const bool create = plan.action == Action::kCreate;
    auto done = js.addOrUpdateConsumer(stream, want);
    natsCall(create ? "consumer.create" : "consumer.update", done.ok());
    if (!done && (create || transient(done.error())))
      return fail(create ? "ConsumerCreateFailed" : "NatsUnavailable", done.error());
    if (!done) return recreateConsumer(js, pass, plan, done.error());
    tell(pass, plan);
    pass.out.consumerInfo = done.value();
  }
  pass.out.consumer = {"ConsumerReady", "True", "Ready",
                       "consumer " + want.durable + " matches the spec", pass.out.generation};
  remember(seenConsumers_, kube::keyOf(pass.channel));
}

bool ChannelReconciler::madeResults(const std::string& key) {
  std::lock_guard lock(seenMu_);
  return seenResults_.count(key) > 0;
}

void ChannelReconciler::ensureResults(nats::Client& js, Pass& pass) {
  const std::string key = kube::keyOf(pass.channel);
  const std::string name = api::resultsStreamName(pass.ref.ns, pass.ref.name);
  const int64_t gen = pass.out.generation;
  const bool enabled = pass.spec.gateway.enabled;
  const api::Condition disabled{kGatewayCondition, "False", "Disabled",
                                "spec.gateway.enabled is false; no results stream", gen};
  auto fail = [&](const std::string& doing, const Error& e) {
    const std::string msg = "results stream " + name + ": " + doing + ": " + e.message;
    pass.out.gateway = {kGatewayCondition, "False", "ResultsStreamFailed", msg, gen};
    events_.warning(pass.ref, "ResultsStreamFailed", msg);
    pass.log.warn("results stream not ready", {{"stream", name}, {"error", e.message}});
    if (transient(e)) pass.retry = e;
  };
  if (pass.retry) {
    // NATS failed this pass already (stream or consumer): one warning is enough.
    pass.out.gateway = {kGatewayCondition, "Unknown", "NatsUnavailable",
                        "not reconciled: " + pass.retry->message, gen};
    return;
  }
  if (!enabled &&
      !resultsStreamMayExist(pass.channel.value("status", json::object()), madeResults(key))) {
    pass.out.gateway = disabled;
    return;
  }
  auto have = js.streamInfo(name);
  natsCall("stream.info", have.ok() || have.error().code == Error::Code::kNotFound);
  if (!have && have.error().code != Error::Code::kNotFound) return fail("info", have.error());
  std::optional<nats::StreamConfig> want;
  if (enabled) want = resultsStreamConfig(pass.ref.ns, pass.ref.name, pass.spec);
  const ResultsPlan plan =
      planResultsStream(want, have ? std::optional(have->config) : std::nullopt,
                        history(pass.channel, kGatewayCondition, seenResults_, gen));
  if (plan.action == ResultsAction::kDelete || plan.action == ResultsAction::kReplace) {
    Status st = js.deleteStream(name);
    natsCall("stream.delete", st.ok() || st.error().code == Error::Code::kNotFound);
    if (!st && st.error().code != Error::Code::kNotFound) return fail("delete", st.error());
  }
  if (plan.action == ResultsAction::kCreate || plan.action == ResultsAction::kReplace) {
    auto done = js.addStream(*want);
    natsCall("stream.create", done.ok());
    if (!done) return fail("create", done.error());
  } else if (plan.action == ResultsAction::kUpdate) {
    auto done = js.updateStream(*want);
    natsCall("stream.update", done.ok());
    if (!done) return fail("update", done.error());
  }
  if (plan.action != ResultsAction::kNone) {
    if (plan.warning) {
      events_.warning(pass.ref, plan.reason, plan.message);
    } else {
      events_.normal(pass.ref, plan.reason, plan.message);
    }
    pass.log.info(plan.message, {{"reason", plan.reason}});
  }
  if (!enabled) {
    std::lock_guard lock(seenMu_);
    seenResults_.erase(key);
    pass.out.gateway = disabled;
    return;
  }
  remember(seenResults_, key);
  pass.out.gateway = {kGatewayCondition, "True", "ResultsStreamReady",
                      "results stream " + name + " matches spec.gateway", gen};
}

Status ChannelReconciler::deleteResults(const json& channel, const api::ChannelSpec& spec,
                                        const Result<std::shared_ptr<nats::Client>>* js,
                                        const kube::ReconcileLog& log) {
  const std::string ns = channel["metadata"].value("namespace", "");
  const std::string name = channel["metadata"].value("name", "");
  const std::string results = api::resultsStreamName(ns, name);
  kube::ObjectRef ref = kube::ObjectRef::from(channel);
  const bool must =
      resultsOnDeletion(spec, channel.value("status", json::object()),
                        madeResults(kube::keyOf(channel))) == ResultsOnDeletion::kMust;
  if (!*js) {
    // Only here when NATS need not be reached (finalize) or the Secret is gone for good.
    if (must)
      events_.warning(ref, "ResultsStreamLeft",
                      "results stream " + results + " was not deleted: " + js->error().message);
    log.warn("results stream not deleted",
             {{"stream", results}, {"error", js->error().message}, {"mayNotExist", !must}});
    return {};
  }
  Status st = js->value()->deleteStream(results);
  natsCall("stream.delete", st.ok() || st.error().code == Error::Code::kNotFound);
  if (!st && st.error().code == Error::Code::kNotFound) return {};
  if (!st) {
    if (!must) {
      log.warn("results stream not deleted", {{"stream", results}, {"error", st.error().message}});
      return {};
    }
    events_.warning(ref, "DeleteFailed", "results stream " + results + ": " + st.error().message);
    return st.error();
  }
  events_.normal(ref, "ResultsStreamDeleted",
                 "results stream " + results + " deleted with the Channel (results are transient)");
  log.info("results stream deleted", {{"stream", results}});
  return {};
}

// The server refused the consumer change in place (an immutable field).
void ChannelReconciler::recreateConsumer(nats::Client& js, Pass& pass, const Plan& plan,
                                         const Error& refused) {
  const std::string& stream = pass.spec.stream.name;
  const nats::ConsumerConfig& want = pass.spec.consumer;
  const int64_t ackPending = pass.out.consumerInfo ? pass.out.consumerInfo->numAckPending : 0;
  if (afterRefusedConsumerUpdate(ackPending) == AfterRefusal::kWait) {
    std::string msg = "consumer " + want.durable + " needs re-creating to apply " +
                      api::describe(plan.changes) + " (" + refused.message +
                      "); waiting until no message is in flight (" + std::to_string(ackPending) +
                      " now)";
    pass.out.consumer = {"ConsumerReady", "False", "UpdateBlocked", msg, pass.out.generation};
    events_.warning(pass.ref, "UpdateBlocked", msg);
    return;
  }
  Status del = js.deleteConsumer(stream, want.durable);
  natsCall("consumer.delete", del.ok());
  auto created =
      del ? js.addOrUpdateConsumer(stream, want) : Result<nats::ConsumerInfo>(del.error());
  natsCall("consumer.create", created.ok());
  if (!created) {
    pass.out.consumer = {"ConsumerReady", "False", "ConsumerRecreateFailed",
                         created.error().message, pass.out.generation};
    events_.warning(pass.ref, "ConsumerRecreateFailed", created.error().message);
    if (transient(created.error())) pass.retry = created.error();
    return;
  }
  std::string msg = "consumer " + want.durable + " re-created to apply " +
                    api::describe(plan.changes) +
                    " (the server refused the change in place: " + refused.message + ")";
  events_.normal(pass.ref, "ConsumerRecreated", msg);
  pass.log.info(msg, {{"consumer", want.durable}});
  pass.out.consumerInfo = created.value();
  pass.out.consumer = {"ConsumerReady", "True", "Ready",
                       "consumer " + want.durable + " matches the spec", pass.out.generation};
  remember(seenConsumers_, kube::keyOf(pass.channel));
}

// Puts osmosis-sidecar into the scale target's pod template while spec.worker.injectSidecar
// asks for it, and takes it out (from the target it went into) when it no longer does.
void ChannelReconciler::ensureInjection(const std::set<std::string>& secretKeys, Pass& pass) {
  const std::string ns = pass.ref.ns;
  const std::string was =
      pass.channel.value("status", json::object()).value("sidecarInjectedInto", "");
  const auto& target = pass.spec.scaleTarget;
  const std::string want =
      pass.spec.injectSidecar && target ? target->kind + "/" + target->name : "";
  kube::PatchOptions po;
  po.fieldManager = kInjectorFieldManager;
  po.force = true;
  if (!was.empty() && was != want) {
    api::ScaleTargetRef old{"apps/v1", was.substr(0, was.find('/')), was.substr(was.find('/') + 1)};
    auto res = client_.resourceFor(old.apiVersion, old.kind);
    auto r = res ? client_.patch(res.value(), ns, old.name, kube::PatchType::kApply,
                                 injectionRemoval(old, ns), po)
                 : Result<json>(res.error());
    if (!r && !kube::isNotFound(r.error())) {
      events_.warning(pass.ref, "SidecarRemovalFailed",
                      "cannot remove osmosis-sidecar from " + was + ": " + r.error().message);
      return;
    }
    events_.normal(pass.ref, "SidecarRemoved",
                   "osmosis-sidecar removed from the pod template of " + was);
    pass.log.info("sidecar removed", {{"target", was}});
    pass.out.sidecarIn = "";
  }
  if (want.empty()) return;
  if (!injectable(*target)) {
    events_.warning(pass.ref, "InjectionUnsupported",
                    target->apiVersion + " " + target->kind +
                        " has no pod template Osmosis knows; add osmosis-sidecar by hand "
                        "(docs/autoscaler.md)");
    return;
  }
  if (!nativeSidecars_) {
    if (auto v = client_.serverVersion()) nativeSidecars_ = supportsNativeSidecars(v.value());
  }
  InjectionSettings settings = options_.injection;
  settings.nativeSidecar = nativeSidecars_.value_or(false);
  auto res = client_.resourceFor(target->apiVersion, target->kind);
  auto r =
      res ? client_.patch(
                res.value(), ns, target->name, kube::PatchType::kApply,
                injectionApply(*target, ns, pass.ref.name, pass.spec, secretKeys, settings), po)
          : Result<json>(res.error());
  if (!r) {
    std::string msg = "cannot add osmosis-sidecar to " + want + ": " + r.error().message;
    events_.warning(pass.ref, "InjectionFailed", msg);
    pass.log.warn("sidecar injection failed", {{"target", want}, {"error", r.error().message}});
    return;
  }
  if (was != want) {
    events_.normal(pass.ref, "SidecarInjected",
                   "osmosis-sidecar added to the pod template of " + want + " (" +
                       (settings.nativeSidecar ? "native sidecar" : "container") + ")");
    pass.log.info("sidecar injected", {{"target", want}, {"native", settings.nativeSidecar}});
  }
  pass.out.sidecarIn = want;
}

Status ChannelReconciler::writeStatus(const json& channel, const api::ChannelSpec& spec,
                                      const Outcome& out) {
  const json previous = channel.value("status", json::object());
  const std::string ns = channel["metadata"].value("namespace", "");
  const std::string name = channel["metadata"].value("name", "");
  json body = statusApply(ns, name, spec, out, previous, kube::formatTime(clock_.wallNow()));
  // An idle Channel's resync changes nothing but times: no write.
  if (statusUnchanged(body, previous)) return {};
  kube::PatchOptions po;
  po.fieldManager = kStatusFieldManager;
  po.force = true;
  po.subresource = "status";
  auto r = client_.patch(kube::resources::channels(), ns, name, kube::PatchType::kApply, body, po);
  if (!r && !kube::isNotFound(r.error())) return r.error();
  return {};
}

}  // namespace osmosis::channel
