#pragma once

// What to do about one NATS object of a Channel (its stream, then its consumer), decided from
// the spec and what the server has, without I/O. The reconciler reads, asks these functions,
// acts, and turns the outcome into a condition and an Event; every branch of the decision is
// here, unit-tested (tests/unit/channel_plan_test.cpp).

#include <optional>
#include <string>
#include <vector>

#include "common/nats/jetstream_types.hpp"
#include "operator/api/drift.hpp"

namespace osmosis::channel {

// What this operator knows of the object's past.
struct History {
  bool existedBefore = false;       // the status said it was ready, or this process saw it
  bool generationObserved = false;  // the status already describes this spec generation
};

enum class Action {
  kNone,    // the server matches the spec
  kCreate,  // not on the server
  kUpdate,  // differs in fields the server can change in place
  kRefuse,  // differs in a field the server cannot change in place (streams)
};

struct Plan {
  Action action = Action::kNone;
  std::vector<api::FieldChange> changes;
  // kCreate: it existed before, so it was lost (deleted, or a NATS restart): a warning.
  bool lost = false;
  // kUpdate: the spec did not change since the last pass, the server did: a warning.
  bool drift = false;
  const char* reason = "Ready";  // the Event's / condition's reason when acted on
  std::string message;           // the Event's words
};

Plan planStream(const nats::StreamConfig& want, const std::optional<nats::StreamConfig>& have,
                const History& history);
Plan planConsumer(const std::string& stream, const nats::ConsumerConfig& want,
                  const std::optional<nats::ConsumerConfig>& have, const History& history);

// The server refused a consumer change in place (an immutable field). With nothing in flight
// re-creating the durable consumer loses nothing (unacked messages stay in the stream);
// otherwise wait until the workers are done with what they hold.
enum class AfterRefusal { kRecreate, kWait };
AfterRefusal afterRefusedConsumerUpdate(int64_t ackPending);

}  // namespace osmosis::channel
