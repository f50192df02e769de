#include "operator/channel/spec.hpp"

#include <set>

#include "common/util/duration.hpp"
#include "operator/channel/naming.hpp"
#include "operator/channel/subjects.hpp"

namespace osmosis::channel {
namespace {

using nlohmann::json;

// Reads fields of one JSON object, recording a Problem for each wrong type or value. Holds its
// own copy of the (small) object, so a Reader made from a temporary cannot dangle.
class Reader {
 public:
  Reader(json obj, std::string path, std::vector<Problem>& problems)
      : obj_(std::move(obj)), path_(std::move(path)), problems_(problems) {
    if (!obj_.is_null() && !obj_.is_object()) problems_.push_back({path_, "must be an object"});
  }

  Reader child(const char* key) const { return Reader(get(key), field(key), problems_); }
  std::string field(const char* key) const { return path_ + "." + key; }
  bool has(const char* key) const { return !get(key).is_null(); }
  const json& get(const char* key) const {
    static const json kNull;
    if (!obj_.is_object()) return kNull;
    auto it = obj_.find(key);
    return it == obj_.end() ? kNull : *it;
  }

  std::string str(const char* key, const std::string& def) const {
    const json& v = get(key);
    if (v.is_null()) return def;
    if (!v.is_string()) {
      problems_.push_back({field(key), "must be a string"});
      return def;
    }
    return v.get<std::string>();
  }
  std::string oneOf(const char* key, const std::string& def,
                    const std::set<std::string>& allowed) const {
    std::string v = str(key, def);
    if (!allowed.count(v)) {
      std::string list;
      for (const auto& a : allowed)
        list += (list.empty() ? "" : ", ") + a;
      problems_.push_back({field(key), "\"" + v + "\" is not one of " + list});
      return def;
    }
    return v;
  }
  int64_t integer(const char* key, int64_t def, int64_t min, int64_t max) const {
    const json& v = get(key);
    if (v.is_null()) return def;
    if (!v.is_number_integer()) {
      problems_.push_back({field(key), "must be a whole number"});
      return def;
    }
    int64_t n = v.get<int64_t>();
    if (n < min || n > max) {
      problems_.push_back({field(key), std::to_string(n) + " is outside " + std::to_string(min) +
                                           ".." + std::to_string(max)});
      return def;
    }
    return n;
  }
  bool boolean(const char* key, bool def) const {
    const json& v = get(key);
    if (v.is_null()) return def;
    if (!v.is_boolean()) {
      problems_.push_back({field(key), "must be true or false"});
      return def;
    }
    return v.get<bool>();
  }
  std::chrono::nanoseconds duration(const char* key, const std::string& def, bool allowZero) const {
    std::string text = str(key, def);
    auto d = parseDuration(text);
    if (!d) {
      problems_.push_back({field(key), d.error().message});
      return parseDuration(def).value();
    }
    if (!allowZero && d.value().count() == 0) {
      problems_.push_back({field(key), "must be longer than 0"});
      return parseDuration(def).value();
    }
    return d.value();
  }

 private:
  json obj_;
  std::string path_;
  std::vector<Problem>& problems_;
};

}  // namespace

std::string describe(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems)
    out += (out.empty() ? "" : "; ") + p.field + ": " + p.message;
  return out;
}

ParsedChannel parseChannel(const json& channel) {
  ParsedChannel out;
  auto& problems = out.problems;
  auto& s = out.spec;
  const json md = channel.contains("metadata") ? channel["metadata"] : json::object();
  const std::string ns = md.value("namespace", "");
  const std::string name = md.value("name", "");
  if (ns.empty() || name.empty())
    problems.push_back({"metadata", "namespace and name are required"});

  Reader spec(channel.contains("spec") ? channel["spec"] : json::object(), "spec", problems);

  // Subjects.
  const json& subjects = spec.get("subjects");
  if (subjects.is_null()) {
    s.subjects = defaultSubjects(ns, name);
  } else if (!subjects.is_array() || subjects.empty()) {
    problems.push_back({"spec.subjects", "must be a non-empty list of subjects"});
  } else {
    std::set<std::string> seen;
    for (size_t i = 0; i < subjects.size(); ++i) {
      std::string f = "spec.subjects[" + std::to_string(i) + "]";
      if (!subjects[i].is_string()) {
        problems.push_back({f, "must be a string"});
        continue;
      }
      std::string subj = subjects[i].get<std::string>();
      if (auto why = subjectProblem(subj)) {
        problems.push_back({f, "invalid subject \"" + subj + "\": " + *why});
        continue;
      }
      for (const auto& other : s.subjects) {
        if (subjectsOverlap(subj, other)) {
          problems.push_back({f, "\"" + subj + "\" overlaps \"" + other + "\" in the same list"});
        }
      }
      if (seen.insert(subj).second) s.subjects.push_back(subj);
    }
  }
  for (const auto& subj : s.subjects) {
    if (subj.rfind("$JS.", 0) == 0 || subj.rfind("$SYS.", 0) == 0 ||
        subj.rfind("osmosis.report.", 0) == 0 || subj == ">" || subj.rfind("_INBOX.", 0) == 0) {
      problems.push_back(
          {"spec.subjects",
           "\"" + subj + "\" would capture NATS system, inbox or Osmosis report traffic"});
    }
  }

  // Stream.
  Reader stream = spec.child("stream");
  s.stream.name = streamName(ns, name);
  s.stream.subjects = s.subjects;
  std::string retention =
      stream.oneOf("retention", "WorkQueue", {"WorkQueue", "Limits", "Interest"});
  s.stream.retention = retention == "Limits"     ? nats::Retention::kLimits
                       : retention == "Interest" ? nats::Retention::kInterest
                                                 : nats::Retention::kWorkQueue;
  s.stream.storage = stream.oneOf("storage", "File", {"File", "Memory"}) == "Memory"
                         ? nats::Storage::kMemory
                         : nats::Storage::kFile;
  s.stream.replicas = static_cast<int>(stream.integer("replicas", 1, 1, 5));
  s.stream.maxAge = stream.duration("maxAge", "0", true);
  s.stream.maxBytes = stream.integer("maxBytes", -1, -1, INT64_MAX);
  s.stream.maxMsgs = stream.integer("maxMsgs", -1, -1, INT64_MAX);
  s.stream.maxMsgSize = static_cast<int32_t>(stream.integer("maxMsgSize", -1, -1, 64 << 20));
  s.stream.discard = stream.oneOf("discard", "Old", {"Old", "New"}) == "New" ? nats::Discard::kNew
                                                                             : nats::Discard::kOld;
  s.stream.duplicateWindow = stream.duration("duplicateWindow", "2m", true);
  if (s.stream.maxAge.count() > 0 && s.stream.duplicateWindow > s.stream.maxAge) {
    problems.push_back(
        {"spec.stream.duplicateWindow", "must not be longer than spec.stream.maxAge"});
  }

  // Consumer.
  Reader consumer = spec.child("consumer");
  s.consumer.durable = kConsumerName;
  s.consumer.ackWait = consumer.duration("ackWait", "30s", false);
  s.consumer.maxDeliver = consumer.integer("maxDeliver", 5, -1, 1000000);
  if (s.consumer.maxDeliver == 0)
    problems.push_back({"spec.consumer.maxDeliver", "must be -1 or at least 1"});
  s.consumer.maxAckPending = consumer.integer("maxAckPending", 1000, 1, 1000000);
  const json& backoff = consumer.get("backoff");
  if (!backoff.is_null()) {
    if (!backoff.is_array()) {
      problems.push_back({"spec.consumer.backoff", "must be a list of durations"});
    } else {
      for (size_t i = 0; i < backoff.size(); ++i) {
        std::string f = "spec.consumer.backoff[" + std::to_string(i) + "]";
        auto d = backoff[i].is_string()
                     ? parseDuration(backoff[i].get<std::string>())
                     : Result<std::chrono::nanoseconds>(
                           makeError(Error::Code::kInvalidArgument, "must be a duration string"));
        if (!d || d.value().count() <= 0) {
          problems.push_back({f, d ? "must be longer than 0" : d.error().message});
        } else {
          s.consumer.backoff.push_back(d.value());
        }
      }
      if (s.consumer.maxDeliver != -1 &&
          static_cast<int64_t>(s.consumer.backoff.size()) >= s.consumer.maxDeliver) {
        problems.push_back({"spec.consumer.backoff", "must have fewer entries than maxDeliver"});
      }
    }
  }
  s.deadLetterSubject = consumer.str("deadLetterSubject", "");
  if (!s.deadLetterSubject.empty()) {
    if (auto why = subjectProblem(s.deadLetterSubject)) {
      problems.push_back({"spec.consumer.deadLetterSubject", *why});
    } else if (s.deadLetterSubject.find_first_of("*>") != std::string::npos) {
      problems.push_back(
          {"spec.consumer.deadLetterSubject", "must be a concrete subject (no wildcards)"});
    } else {
      for (const auto& subj : s.subjects) {
        if (subjectCovers(subj, s.deadLetterSubject)) {
          problems.push_back({"spec.consumer.deadLetterSubject",
                              "\"" + s.deadLetterSubject +
                                  "\" is captured by the channel's own subject \"" + subj +
                                  "\": dead letters would be redelivered"});
        }
      }
    }
  }

  s.deleteStreamOnDelete = spec.oneOf("deletionPolicy", "Retain", {"Retain", "Delete"}) == "Delete";
  Reader natsRef = spec.child("nats").child("secretRef");
  s.natsSecret = natsRef.str("name", "");
  if (spec.child("nats").has("secretRef") && s.natsSecret.empty()) {
    problems.push_back({"spec.nats.secretRef.name", "is required"});
  }

  // Worker.
  Reader worker = spec.child("worker");
  if (worker.has("scaleTargetRef")) {
    Reader ref = worker.child("scaleTargetRef");
    ScaleTargetRef t;
    t.apiVersion = ref.str("apiVersion", "apps/v1");
    t.kind = ref.str("kind", "Deployment");
    t.name = ref.str("name", "");
    if (t.name.empty()) problems.push_back({"spec.worker.scaleTargetRef.name", "is required"});
    s.scaleTarget = t;
  }
  s.injectSidecar = worker.boolean("injectSidecar", false);
  if (s.injectSidecar && !s.scaleTarget) {
    problems.push_back({"spec.worker.injectSidecar", "needs spec.worker.scaleTargetRef"});
  }
  Reader app = worker.child("app");
  s.appPort = static_cast<int>(app.integer("port", 8080, 1, 65535));
  s.appPath = app.str("path", "/");
  if (s.appPath.empty() || s.appPath[0] != '/')
    problems.push_back({"spec.worker.app.path", "must start with /"});

  // Scaling (used by the autoscaler; validated here so mistakes show at once).
  Reader scaling = spec.child("scaling");
  s.scaling.minReplicas = static_cast<int>(scaling.integer("minReplicas", 0, 0, 10000));
  s.scaling.maxReplicas = static_cast<int>(scaling.integer("maxReplicas", 10, 1, 10000));
  if (s.scaling.minReplicas > s.scaling.maxReplicas) {
    problems.push_back({"spec.scaling.minReplicas", "must not exceed maxReplicas"});
  }
  s.scaling.targetBacklogPerReplica = scaling.integer("targetBacklogPerReplica", 100, 1, INT64_MAX);
  s.scaling.targetDrainSeconds =
      static_cast<int>(scaling.integer("targetDrainSeconds", 10, 1, 3600));
  s.scaling.activationBacklog = scaling.integer("activationBacklog", 1, 1, INT64_MAX);
  Reader down = scaling.child("scaleDown");
  s.scaling.stabilizationSeconds =
      static_cast<int>(down.integer("stabilizationSeconds", 60, 0, 3600));
  s.scaling.maxStepPercent = static_cast<int>(down.integer("maxStepPercent", 50, 1, 100));
  s.scaling.scaleToZeroAfterSeconds =
      static_cast<int>(scaling.integer("scaleToZeroAfterSeconds", 120, 0, 86400));
  return out;
}

}  // namespace osmosis::channel
