#include "operator/channel/status.hpp"

#include <algorithm>
#include <array>

#include "operator/api/naming.hpp"

namespace osmosis::channel {
namespace {

using nlohmann::json;

// The fields this controller owns besides its conditions.
constexpr const char* kOwnedFields[] = {"observedGeneration",
                                        "stream",
                                        "consumer",
                                        "subjects",
                                        "pending",
                                        "ackPending",
                                        "backlog",
                                        "redelivered",
                                        "streamMessages",
                                        "streamBytes",
                                        "lastBacklogTime",
                                        "sidecarInjectedInto",
                                        "gateway"};
constexpr const char* kOwnedConditions[] = {"Ready", "StreamReady", "ConsumerReady",
                                            "GatewayReady"};

// Ready and the three others as this pass says they are.
std::array<api::Condition, 4> conditionsOf(const Outcome& out) {
  api::Condition ready{"Ready", "True", "Provisioned", "stream and consumer are ready",
                       out.generation};
  api::Condition stream = out.stream, consumer = out.consumer, gateway = out.gateway;
  if (out.blocked) {
    ready = *out.blocked;
    stream = {"StreamReady", "Unknown", out.blocked->reason,
              "not reconciled: " + out.blocked->reason, out.generation};
    consumer = {"ConsumerReady", "Unknown", out.blocked->reason,
                "not reconciled: " + out.blocked->reason, out.generation};
    gateway = {"GatewayReady", "Unknown", out.blocked->reason,
               "not reconciled: " + out.blocked->reason, out.generation};
  } else if (out.stream.status != "True") {
    ready = {"Ready", "False", out.stream.reason, out.stream.message, out.generation};
    consumer = {"ConsumerReady", "Unknown", "StreamNotReady", "waiting for the stream",
                out.generation};
  } else if (out.consumer.status != "True") {
    ready = {"Ready", "False", out.consumer.reason, out.consumer.message, out.generation};
  }
  return {ready, stream, consumer, gateway};
}

json withoutTimes(json status) {
  status.erase("lastBacklogTime");
  if (status.contains("conditions") && status["conditions"].is_array()) {
    json kept = json::array();
    for (auto c : status["conditions"]) {
      if (!c.is_object()) continue;
      bool mine = false;
      for (const char* t : kOwnedConditions)
        mine = mine || c.value("type", "") == t;
      if (!mine) continue;
      c.erase("lastTransitionTime");
      kept.push_back(c);
    }
    std::sort(kept.begin(), kept.end(), [](const json& a, const json& b) {
      return a.value("type", "") < b.value("type", "");
    });
    status["conditions"] = kept;
  }
  json out = json::object();
  for (const char* f : kOwnedFields)
    if (status.contains(f)) out[f] = status[f];
  out["conditions"] = status.value("conditions", json::array());
  return out;
}

}  // namespace

json statusApply(const std::string& ns, const std::string& name, const api::ChannelSpec& spec,
                 const Outcome& out, const json& previous, const std::string& now) {
  const json prev = previous.is_object() ? previous : json::object();
  json st = json::object();
  json conditions = json::array();
  const json prevConditions = prev.value("conditions", json::array());
  for (const auto& c : conditionsOf(out)) {
    json one = api::findCondition(prevConditions, c.type);
    conditions.push_back(
        api::setCondition(one.is_null() ? json::array() : json::array({one}), c, now).at(0));
  }
  st["conditions"] = conditions;
  st["observedGeneration"] = out.generation;
  st["stream"] = spec.stream.name;
  st["consumer"] = spec.consumer.durable;
  st["subjects"] = spec.subjects;
  if (out.consumerInfo) {
    const auto& c = *out.consumerInfo;
    st["pending"] = c.numPending;
    st["ackPending"] = c.numAckPending;
    st["backlog"] = static_cast<int64_t>(c.numPending) + c.numAckPending;
    st["redelivered"] = c.numRedelivered;
    st["lastBacklogTime"] = now;
  } else {
    for (const char* f : {"pending", "ackPending", "backlog", "redelivered", "lastBacklogTime"})
      if (prev.contains(f)) st[f] = prev[f];
  }
  if (out.streamInfo) {
    st["streamMessages"] = out.streamInfo->state.messages;
    st["streamBytes"] = out.streamInfo->state.bytes;
  } else {
    for (const char* f : {"streamMessages", "streamBytes"})
      if (prev.contains(f)) st[f] = prev[f];
  }
  // Omitted from an apply, a field this manager owns is removed: that is how "no sidecar"
  // is said.
  if (out.sidecarIn) {
    if (!out.sidecarIn->empty()) st["sidecarInjectedInto"] = *out.sidecarIn;
  } else if (prev.contains("sidecarInjectedInto")) {
    st["sidecarInjectedInto"] = prev["sidecarInjectedInto"];
  }
  if (spec.gateway.enabled) {
    st["gateway"] = {{"path", api::gatewayPath(ns, name)},
                     {"resultsStream", api::resultsStreamName(ns, name)}};
  }
  return {{"apiVersion", "osmosis.dev/v1alpha1"},
          {"kind", "Channel"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"status", st}};
}

bool statusUnchanged(const json& body, const json& previous) {
  if (!previous.is_object()) return false;
  return withoutTimes(body.value("status", json::object())) == withoutTimes(previous);
}

}  // namespace osmosis::channel
