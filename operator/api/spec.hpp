#pragma once

// The Channel's spec as a plain struct, parsed and checked without I/O. The API server's
// schema catches most mistakes; this catches what a schema cannot (subject syntax, NATS name
// rules, durations) and survives objects that skipped the schema's defaults.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/nats/jetstream_types.hpp"
#include "operator/api/subject_policy.hpp"

namespace osmosis::api {

// Bounds of what a Channel may ask for: each is what the field's consumer can hold or a sane
// limit well inside it (the CRD states the same bounds). Durations outside are refused when
// the Channel is read, never wrapped later (issue 16, item 5).
inline constexpr std::chrono::hours kMaxStreamAge{876000};      // 100 years
inline constexpr std::chrono::hours kMaxDuplicateWindow{8760};  // 1 year
inline constexpr std::chrono::milliseconds kMinAckWait{100};
inline constexpr std::chrono::hours kMaxAckWait{24};
inline constexpr std::chrono::hours kMaxBackoffStep{24};
inline constexpr size_t kMaxBackoffSteps = 32;
inline constexpr size_t kMaxSubjects = 32;
// How long a gateway request's events stay in the Channel's results stream (spec.gateway).
inline constexpr std::chrono::seconds kMinResultsMaxAge{1};
inline constexpr std::chrono::hours kMaxResultsMaxAge{168};  // 7 days

struct Problem {
  std::string field;  // e.g. "spec.consumer.ackWait"
  std::string message;
};

struct ScaleTargetRef {
  std::string apiVersion = "apps/v1";
  std::string kind = "Deployment";
  std::string name;
  bool operator==(const ScaleTargetRef&) const = default;
};

struct ScalingSpec {
  int minReplicas = 0;
  int maxReplicas = 10;
  int64_t targetBacklogPerReplica = 100;
  int targetDrainSeconds = 10;
  int64_t activationBacklog = 1;
  int stabilizationSeconds = 60;
  int maxStepPercent = 50;
  int scaleToZeroAfterSeconds = 120;
  bool operator==(const ScalingSpec&) const = default;
};

// spec.gateway: whether osmosis-gateway accepts POSTs into this Channel and pushes results back
// (docs/channel.md#gateway). The operator keeps the results stream; the gateway reads the rest.
struct GatewaySpec {
  bool enabled = false;
  // A Secret in the Channel's namespace; every value in its data is an accepted bearer token.
  // Empty: anyone who reaches the gateway may publish.
  std::string publishersSecret;
  int64_t maxBacklog = 10000;  // POST answers 429 over it (pending + ack pending); 0: no limit
  std::chrono::nanoseconds resultsMaxAge{std::chrono::minutes(10)};
  bool operator==(const GatewaySpec&) const = default;
};

struct ChannelSpec {
  std::vector<std::string> subjects;  // after defaulting
  nats::StreamConfig stream;          // name and subjects filled in
  nats::ConsumerConfig consumer;      // durable name filled in
  std::string deadLetterSubject;
  bool deleteStreamOnDelete = false;  // deletionPolicy: Delete
  std::string natsSecret;             // empty: the operator's default connection
  std::optional<ScaleTargetRef> scaleTarget;
  bool injectSidecar = false;
  int appPort = 8080;
  std::string appPath = "/";
  ScalingSpec scaling;
  GatewaySpec gateway;
  bool operator==(const ChannelSpec&) const = default;
};

struct ParsedChannel {
  ChannelSpec spec;
  std::vector<Problem> problems;  // empty: valid
};

// Pure: the whole Channel object (metadata for names and defaults, spec) -> spec or problems.
ParsedChannel parseChannel(const nlohmann::json& channel);

// Pure: the subject ownership rule (subject_policy.hpp) applied to a parsed spec.
std::vector<Problem> subjectPolicyProblems(const std::string& ns, const ChannelSpec& spec,
                                           const SubjectPolicy& policy);

// One line listing the problems, for conditions and Events.
std::string describe(const std::vector<Problem>& problems);

}  // namespace osmosis::api
