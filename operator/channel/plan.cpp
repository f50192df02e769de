#include "operator/channel/plan.hpp"

namespace osmosis::channel {
namespace {

std::string subjectsText(const std::vector<std::string>& subjects) {
  if (subjects.empty()) return "no subjects";
  return subjects.front() + (subjects.size() > 1 ? " and more" : "");
}

}  // namespace

Plan planStream(const nats::StreamConfig& want, const std::optional<nats::StreamConfig>& have,
                const History& history) {
  Plan p;
  const std::string& name = want.name;
  if (!have) {
    p.action = Action::kCreate;
    p.lost = history.existedBefore;
    p.reason = p.lost ? "StreamRecreated" : "StreamCreated";
    p.message = p.lost ? "stream " + name +
                             " was missing on the server (deleted, or lost in a NATS restart); "
                             "recreated"
                       : "stream " + name + " created on subjects " + subjectsText(want.subjects);
    return p;
  }
  p.changes = api::streamDrift(want, *have);
  if (p.changes.empty()) return p;
  if (api::anyImmutable(p.changes)) {
    p.action = Action::kRefuse;
    p.reason = "ImmutableFieldChanged";
    p.message = "stream " + name + " cannot be changed in place (" + api::describe(p.changes) +
                "); delete and re-create the Channel to change it (its messages would be lost)";
    return p;
  }
  p.action = Action::kUpdate;
  p.drift = history.generationObserved;
  p.reason = p.drift ? "StreamDriftRepaired" : "StreamUpdated";
  p.message = "stream " + name + ": " + api::describe(p.changes);
  return p;
}

Plan planConsumer(const std::string& stream, const nats::ConsumerConfig& want,
                  const std::optional<nats::ConsumerConfig>& have, const History& history) {
  Plan p;
  const std::string& name = want.durable;
  if (!have) {
    p.action = Action::kCreate;
    p.lost = history.existedBefore;
    p.reason = p.lost ? "ConsumerRecreated" : "ConsumerCreated";
    p.message = p.lost ? "consumer " + name + " was missing on stream " + stream + "; recreated"
                       : "consumer " + name + " created on stream " + stream;
    return p;
  }
  p.changes = api::consumerDrift(want, *have);
  if (p.changes.empty()) return p;
  p.action = Action::kUpdate;
  p.drift = history.generationObserved;
  p.reason = p.drift ? "ConsumerDriftRepaired" : "ConsumerUpdated";
  p.message = "consumer " + name + ": " + api::describe(p.changes);
  return p;
}

AfterRefusal afterRefusedConsumerUpdate(int64_t ackPending) {
  return ackPending == 0 ? AfterRefusal::kRecreate : AfterRefusal::kWait;
}

}  // namespace osmosis::channel
