#include "operator/api/drift.hpp"

#include <algorithm>

#include "common/util/duration.hpp"

namespace osmosis::api {
namespace {

const char* name(nats::Retention r) {
  switch (r) {
    case nats::Retention::kLimits:
      return "Limits";
    case nats::Retention::kInterest:
      return "Interest";
    case nats::Retention::kWorkQueue:
      return "WorkQueue";
  }
  return "?";
}

std::string list(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string out = "[";
  for (const auto& s : v)
    out += (out.size() > 1 ? "," : "") + s;
  return out + "]";
}

std::string durations(const std::vector<std::chrono::nanoseconds>& v) {
  std::string out = "[";
  for (const auto& d : v)
    out += (out.size() > 1 ? "," : "") + formatDuration(d);
  return out + "]";
}

}  // namespace

std::vector<FieldChange> streamDrift(const nats::StreamConfig& want,
                                     const nats::StreamConfig& have) {
  std::vector<FieldChange> out;
  auto add = [&](const char* field, const std::string& h, const std::string& w,
                 bool immutable = false) {
    if (h != w) out.push_back({field, h, w, immutable});
  };
  add("subjects", list(have.subjects), list(want.subjects));
  add("retention", name(have.retention), name(want.retention), true);
  add("storage", have.storage == nats::Storage::kFile ? "File" : "Memory",
      want.storage == nats::Storage::kFile ? "File" : "Memory", true);
  add("replicas", std::to_string(have.replicas), std::to_string(want.replicas));
  add("maxAge", formatDuration(have.maxAge), formatDuration(want.maxAge));
  add("maxBytes", std::to_string(have.maxBytes), std::to_string(want.maxBytes));
  add("maxMsgs", std::to_string(have.maxMsgs), std::to_string(want.maxMsgs));
  add("maxMsgSize", std::to_string(have.maxMsgSize), std::to_string(want.maxMsgSize));
  add("discard", have.discard == nats::Discard::kOld ? "Old" : "New",
      want.discard == nats::Discard::kOld ? "Old" : "New");
  // 0 asks for the server's default window, which the server then reports as a number.
  if (want.duplicateWindow.count() != 0) {
    add("duplicateWindow", formatDuration(have.duplicateWindow),
        formatDuration(want.duplicateWindow));
  }
  return out;
}

std::vector<FieldChange> consumerDrift(const nats::ConsumerConfig& want,
                                       const nats::ConsumerConfig& have) {
  std::vector<FieldChange> out;
  auto add = [&](const char* field, const std::string& h, const std::string& w,
                 bool immutable = false) {
    if (h != w) out.push_back({field, h, w, immutable});
  };
  // With a backoff list the server takes its first entry as the ack wait (and reports that).
  auto effectiveAckWait = want.backoff.empty() ? want.ackWait : want.backoff.front();
  add("ackWait", formatDuration(have.ackWait), formatDuration(effectiveAckWait));
  add("maxDeliver", std::to_string(have.maxDeliver), std::to_string(want.maxDeliver));
  add("maxAckPending", std::to_string(have.maxAckPending), std::to_string(want.maxAckPending));
  add("backoff", durations(have.backoff), durations(want.backoff));
  add("filterSubject", have.filterSubject, want.filterSubject);
  return out;
}

bool anyImmutable(const std::vector<FieldChange>& changes) {
  return std::any_of(changes.begin(), changes.end(),
                     [](const FieldChange& c) { return c.immutable; });
}

std::string describe(const std::vector<FieldChange>& changes) {
  std::string out;
  for (const auto& c : changes)
    out += (out.empty() ? "" : ", ") + c.field + " " + c.have + " -> " + c.want;
  return out;
}

}  // namespace osmosis::api
