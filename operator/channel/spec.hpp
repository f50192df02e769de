#pragma once

// The Channel's spec as a plain struct, parsed and checked without I/O. The API server's
// schema catches most mistakes; this catches what a schema cannot (subject syntax, NATS name
// rules, durations) and survives objects that skipped the schema's defaults.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/nats/jetstream.hpp"

namespace osmosis::channel {

struct Problem {
  std::string field;  // e.g. "spec.consumer.ackWait"
  std::string message;
};

struct ScaleTargetRef {
  std::string apiVersion = "apps/v1";
  std::string kind = "Deployment";
  std::string name;
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
};

struct ParsedChannel {
  ChannelSpec spec;
  std::vector<Problem> problems;  // empty: valid
};

// Pure: the whole Channel object (metadata for names and defaults, spec) -> spec or problems.
ParsedChannel parseChannel(const nlohmann::json& channel);

// One line listing the problems, for conditions and Events.
std::string describe(const std::vector<Problem>& problems);

}  // namespace osmosis::channel
