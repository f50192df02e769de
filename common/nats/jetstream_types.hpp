#pragma once

// The JetStream model Osmosis uses: stream and consumer settings and state, as plain structs
// (no libnats types), shared by the management API's JSON and by callers.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/nats/headers.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

using std::chrono::nanoseconds;

enum class Retention { kLimits, kInterest, kWorkQueue };
enum class Storage { kFile, kMemory };
enum class Discard { kOld, kNew };

// Whether a management request only reads (stream and consumer info, message get, list),
// so asking it again cannot do anything twice.
enum class ApiCall { kRead, kWrite };

struct StreamConfig {
  std::string name;
  std::vector<std::string> subjects;
  Retention retention = Retention::kWorkQueue;
  Storage storage = Storage::kFile;
  int replicas = 1;
  nanoseconds maxAge{0};  // 0: unlimited
  int64_t maxBytes = -1;
  int64_t maxMsgs = -1;
  int32_t maxMsgSize = -1;
  Discard discard = Discard::kOld;
  nanoseconds duplicateWindow{std::chrono::minutes(2)};
  bool operator==(const StreamConfig&) const = default;
};

struct StreamState {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t firstSequence = 0;
  uint64_t lastSequence = 0;
  int64_t consumers = 0;
};

struct StreamInfo {
  StreamConfig config;
  StreamState state;
  // The server that answered as the stream's leader (cluster.leader); empty when not clustered.
  // JetStream API requests are answered by the leader, so these figures are never a stale
  // follower's (docs/faults.md).
  std::string leader;
  // A clustered answer that names no leader: while a stream's or consumer's group elects one,
  // the meta leader answers with the config and zeroed figures (seen in NatsClusterFaultTest:
  // a backlog of 0 in the middle of 53,000). The config is good; the figures are not, and
  // nothing may act on them (a backlog of 0 could scale busy workers to zero).
  bool leaderless = false;
};

struct ConsumerConfig {
  std::string durable;
  std::string filterSubject;  // empty: all of the stream's subjects
  nanoseconds ackWait{std::chrono::seconds(30)};
  int64_t maxDeliver = -1;  // -1: unlimited
  int64_t maxAckPending = 1000;
  std::vector<nanoseconds> backoff;
  bool operator==(const ConsumerConfig&) const = default;
};

struct ConsumerInfo {
  std::string stream;
  std::string name;
  ConsumerConfig config;
  uint64_t numPending = 0;    // matching messages not yet delivered
  int64_t numAckPending = 0;  // delivered, not yet acked
  int64_t numRedelivered = 0;
  int64_t numWaiting = 0;  // open pull requests
  uint64_t deliveredStreamSequence = 0;
  uint64_t ackFloorStreamSequence = 0;
  std::string leader;       // the consumer's leader (cluster.leader); empty when not clustered
  bool leaderless = false;  // as StreamInfo::leaderless: config only, no figures
};

// A JetStream publish acknowledged: where the message is stored, and whether the stream had
// it already (the same Nats-Msg-Id inside the duplicate window).
struct PublishAck {
  std::string stream;
  uint64_t sequence = 0;
  bool duplicate = false;
};

// A message read back from a stream ($JS.API.STREAM.MSG.GET).
struct StoredMessage {
  std::string subject;
  uint64_t sequence = 0;
  Headers headers;
  std::string data;
};

// For callers that use an answer's figures (backlog, sequences): a leaderless answer
// (StreamInfo/ConsumerInfo::leaderless) becomes an Unavailable error, as a timeout would.
// Callers that only need the config (the Channel reconciler) take the answer as it is.
Result<StreamInfo> requireLeader(Result<StreamInfo> info);
Result<ConsumerInfo> requireLeader(Result<ConsumerInfo> info);

}  // namespace osmosis::nats
