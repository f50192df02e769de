#pragma once

// The Channel's results stream (spec.gateway, issue 14), decided without I/O: what it should
// be, what to do about the one on the server, and when to look for a leftover one. The
// reconciler reads, asks these functions, acts (reconciler.cpp, ensureResults).
//
// The stream holds the events sidecars publish for requests that came in through the gateway,
// on osmosis.results.<ns>.<channel>.<id> (common/contract/gateway_contract.hpp). Its contents
// are transient (at most spec.gateway.resultsMaxAge old), so the operator deletes it whenever
// the gateway is off and always with the Channel, and re-creates it rather than refusing when
// the server's copy differs in a field that cannot change in place.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/nats/jetstream_types.hpp"
#include "operator/api/spec.hpp"
#include "operator/channel/plan.hpp"

namespace osmosis::channel {

inline constexpr const char* kGatewayCondition = "GatewayReady";

// The results stream for Channel ns/name: its subject, max age resultsMaxAge, the Channel
// stream's storage and replicas, Limits retention, discard old, and a duplicate window of
// min(2m, max age) (so a final event re-published after a sidecar crash is stored once).
nats::StreamConfig resultsStreamConfig(const std::string& ns, const std::string& name,
                                       const api::ChannelSpec& spec);

enum class ResultsAction {
  kNone,
  kCreate,
  kUpdate,
  kReplace,  // differs in an immutable field: delete and create (the events are transient)
  kDelete,   // the gateway is off and the stream is there
};

struct ResultsPlan {
  ResultsAction action = ResultsAction::kNone;
  const char* reason = "ResultsStreamReady";  // the Event's reason when acted on
  bool warning = false;                       // lost, drifted or replaced: a Warning Event
  std::string message;
};

// `want`: the config while the gateway is enabled, nullopt while it is not. `have`: the
// server's copy, nullopt when there is none.
ResultsPlan planResultsStream(const std::optional<nats::StreamConfig>& want,
                              const std::optional<nats::StreamConfig>& have,
                              const History& history);

// With the gateway off: may a results stream be on the server, so that it must be looked for?
// Not once the GatewayReady condition says Disabled (a pass found none, or deleted it) and
// this process has not made one since: a Channel that never used the gateway costs no call.
bool resultsStreamMayExist(const nlohmann::json& previousStatus, bool madeByThisProcess);

// On the Channel's deletion (whatever its deletionPolicy: results are transient):
//  kMust  it is there or was asked for (gateway enabled, status.gateway set, made by this
//         process): NATS down keeps the finalizer and retries; a gone Secret leaves it, warned.
//  kTry   it might be (no pass has said Disabled yet): deleted if NATS answers, else let go.
//  kSkip  a pass found none and the gateway is off.
enum class ResultsOnDeletion { kSkip, kTry, kMust };
ResultsOnDeletion resultsOnDeletion(const api::ChannelSpec& spec,
                                    const nlohmann::json& previousStatus, bool madeByThisProcess);

}  // namespace osmosis::channel
