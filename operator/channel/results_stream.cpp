#include "operator/channel/results_stream.hpp"

#include <algorithm>

#include "common/contract/gateway_contract.hpp"
#include "operator/api/conditions.hpp"
#include "operator/api/naming.hpp"

namespace osmosis::channel {

nats::StreamConfig resultsStreamConfig(const std::string& ns, const std::string& name,
                                       const api::ChannelSpec& spec) {
  nats::StreamConfig c;
  c.name = api::resultsStreamName(ns, name);
  c.subjects = {contract::gateway::resultsStreamSubject(ns, name)};
  // Limits: events are read by any number of gateway replicas and SSE resumes, never acked away.
  c.retention = nats::Retention::kLimits;
  c.storage = spec.stream.storage;
  c.replicas = spec.stream.replicas;
  c.maxAge = spec.gateway.resultsMaxAge;
  c.discard = nats::Discard::kOld;
  // The server refuses a duplicate window longer than the max age.
  c.duplicateWindow =
      std::min<std::chrono::nanoseconds>(std::chrono::minutes(2), spec.gateway.resultsMaxAge);
  return c;
}

ResultsPlan planResultsStream(const std::optional<nats::StreamConfig>& want,
                              const std::optional<nats::StreamConfig>& have,
                              const History& history) {
  ResultsPlan r;
  if (!want) {
    if (!have) return r;
    r.action = ResultsAction::kDelete;
    r.reason = "ResultsStreamDeleted";
    r.message = "results stream " + have->name + " deleted: spec.gateway.enabled is false";
    return r;
  }
  const Plan p = planStream(*want, have, history);
  r.message = "results " + p.message;  // "results stream X ..."
  switch (p.action) {
    case Action::kNone:
      r.message.clear();
      return r;
    case Action::kCreate:
      r.action = ResultsAction::kCreate;
      r.warning = p.lost;
      r.reason = p.lost ? "ResultsStreamRecreated" : "ResultsStreamCreated";
      return r;
    case Action::kUpdate:
      r.action = ResultsAction::kUpdate;
      r.warning = p.drift;
      r.reason = p.drift ? "ResultsStreamDriftRepaired" : "ResultsStreamUpdated";
      return r;
    case Action::kRefuse:
      r.action = ResultsAction::kReplace;
      r.warning = true;
      r.reason = "ResultsStreamReplaced";
      r.message = "results stream " + want->name + " differed in a field NATS cannot change (" +
                  api::describe(p.changes) +
                  "); deleted and re-created (its events are transient: requests in flight "
                  "lose the events stored so far)";
      return r;
  }
  return r;
}

bool resultsStreamMayExist(const nlohmann::json& previousStatus, bool madeByThisProcess) {
  if (madeByThisProcess) return true;
  const nlohmann::json prev =
      previousStatus.is_object() ? previousStatus : nlohmann::json::object();
  if (prev.contains("gateway")) return true;
  const nlohmann::json c =
      api::findCondition(prev.value("conditions", nlohmann::json()), kGatewayCondition);
  return !(c.is_object() && c.value("reason", "") == "Disabled");
}

ResultsOnDeletion resultsOnDeletion(const api::ChannelSpec& spec,
                                    const nlohmann::json& previousStatus, bool madeByThisProcess) {
  const bool recorded = previousStatus.is_object() && previousStatus.contains("gateway");
  if (spec.gateway.enabled || recorded || madeByThisProcess) return ResultsOnDeletion::kMust;
  return resultsStreamMayExist(previousStatus, false) ? ResultsOnDeletion::kTry
                                                      : ResultsOnDeletion::kSkip;
}

}  // namespace osmosis::channel
