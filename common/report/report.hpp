#pragma once

// The sidecar -> operator report: one small JSON message per pod per second on a per-channel
// subject. Pure: build, serialise, parse and validate; no I/O. Schema: docs/report-schema.md.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/util/result.hpp"

namespace osmosis::report {

inline constexpr int kSchemaVersion = 1;
inline constexpr const char* kDefaultSubjectPrefix = "osmosis.report";

// Bounds a report must keep (anything outside is malformed): a real sidecar never comes near.
inline constexpr size_t kMaxReportBytes = 8192;
inline constexpr size_t kMaxStringField = 1024;
inline constexpr size_t kMaxPodName = 253;
inline constexpr uint64_t kMaxFigure = uint64_t{1} << 53;
inline constexpr int kMinYear = 2000;
inline constexpr int kMaxYear = 2200;

struct ConsumerFigures {
  uint64_t pending = 0;     // num_pending: not yet delivered
  int64_t ackPending = 0;   // num_ack_pending: delivered, not yet acked
  int64_t redelivered = 0;  // num_redelivered
};

struct Report {
  int schemaVersion = kSchemaVersion;
  std::string namespace_;  // the Channel's namespace (also the pod's)
  std::string channel;
  std::string pod;
  std::string mode;  // "dispatch" or "report"
  std::string stream;
  std::string consumer;
  // Absent when the consumer could not be read (see error).
  std::optional<ConsumerFigures> figures;
  uint64_t processed = 0;   // acked after a 2xx, since the sidecar started
  uint64_t failed = 0;      // nakked or termed, since start
  double rate = 0;          // processed messages per second, smoothed
  double busyFraction = 0;  // share of the last interval with at least one message in flight
  int64_t inFlight = 0;
  int64_t concurrency = 0;
  bool ready = false;     // NATS connected, consumer bound and (dispatch) the app reachable
  bool final = false;     // the last report before the sidecar exits
  uint64_t sequence = 0;  // per sidecar process, from 1
  std::chrono::system_clock::time_point time;
  std::string version;
  std::string error;  // why the sidecar is not ready, empty when it is
};

// "<prefix>.<namespace>.<channel>"; names must be NATS subject tokens (common/nats/subject.hpp).
Result<std::string> subjectFor(const std::string& ns, const std::string& channel,
                               const std::string& prefix = kDefaultSubjectPrefix);

std::string toJson(const Report& report);

// The `time` field's format (log::formatTime's), strictly, years kMinYear..kMaxYear.
std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text);

// Parses and validates (schema version, required fields, types, non-negative figures).
Result<Report> parse(std::string_view json);

}  // namespace osmosis::report
