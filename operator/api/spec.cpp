#include "operator/api/spec.hpp"

#include <set>

#include "common/http/path.hpp"
#include "common/nats/subject.hpp"
#include "common/util/duration.hpp"
#include "operator/api/naming.hpp"

namespace osmosis::api {
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
  // A duration within [min, max]: `max` is what the field's consumer can hold (see the bounds
  // in spec.hpp), checked here so an accepted value can never overflow later.
  std::chrono::nanoseconds duration(const char* key, const std::string& def,
                                    std::chrono::nanoseconds min,
                                    std::chrono::nanoseconds max) const {
    std::string text = str(key, def);
    auto d = parseDurationWithin(text, min, max);
    if (!d) {
      problems_.push_back({field(key), d.error().message});
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

namespace {

using std::chrono::nanoseconds;

// A metadata field as text; "" when absent or not a string (json::value would throw).
std::string metadataText(const json& md, const char* key) {
  auto it = md.find(key);
  return it != md.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// metadata.namespace and metadata.name become NATS subject tokens and stream names.
void parseNames(const json& md, std::vector<Problem>& problems) {
  const std::string ns = metadataText(md, "namespace");
  const std::string name = metadataText(md, "name");
  if (ns.empty() || name.empty()) {
    problems.push_back({"metadata", "namespace and name are required"});
    return;
  }
  if (auto why = nats::tokenProblem(ns)) problems.push_back({"metadata.namespace", *why});
  if (auto why = nats::tokenProblem(name)) problems.push_back({"metadata.name", *why});
}

void parseSubjects(const Reader& spec, const std::string& ns, const std::string& name,
                   ChannelSpec& s, std::vector<Problem>& problems) {
  const json& subjects = spec.get("subjects");
  if (subjects.is_null()) {
    s.subjects = defaultSubjects(ns, name);
    return;
  }
  if (!subjects.is_array() || subjects.empty()) {
    problems.push_back({"spec.subjects", "must be a non-empty list of subjects"});
    return;
  }
  if (subjects.size() > kMaxSubjects) {
    problems.push_back({"spec.subjects", "at most " + std::to_string(kMaxSubjects) + " subjects"});
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < subjects.size(); ++i) {
    std::string f = "spec.subjects[" + std::to_string(i) + "]";
    if (!subjects[i].is_string()) {
      problems.push_back({f, "must be a string"});
      continue;
    }
    std::string subj = subjects[i].get<std::string>();
    if (auto why = nats::subjectProblem(subj)) {
      problems.push_back({f, "invalid subject: " + *why});
      continue;
    }
    for (const auto& other : s.subjects) {
      if (nats::subjectsOverlap(subj, other))
        problems.push_back({f, "\"" + subj + "\" overlaps \"" + other + "\" in the same list"});
    }
    if (seen.insert(subj).second) s.subjects.push_back(subj);
  }
}

void parseStream(const Reader& spec, const std::string& ns, const std::string& name, ChannelSpec& s,
                 std::vector<Problem>& problems) {
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
  s.stream.maxAge = stream.duration("maxAge", "0", nanoseconds(0), kMaxStreamAge);
  s.stream.maxBytes = stream.integer("maxBytes", -1, -1, INT64_MAX);
  s.stream.maxMsgs = stream.integer("maxMsgs", -1, -1, INT64_MAX);
  s.stream.maxMsgSize = static_cast<int32_t>(stream.integer("maxMsgSize", -1, -1, 64 << 20));
  s.stream.discard = stream.oneOf("discard", "Old", {"Old", "New"}) == "New" ? nats::Discard::kNew
                                                                             : nats::Discard::kOld;
  s.stream.duplicateWindow =
      stream.duration("duplicateWindow", "2m", nanoseconds(0), kMaxDuplicateWindow);
  if (s.stream.maxAge.count() > 0 && s.stream.duplicateWindow > s.stream.maxAge) {
    problems.push_back(
        {"spec.stream.duplicateWindow", "must not be longer than spec.stream.maxAge"});
  }
}

void parseBackoff(const Reader& consumer, ChannelSpec& s, std::vector<Problem>& problems) {
  const json& backoff = consumer.get("backoff");
  if (backoff.is_null()) return;
  if (!backoff.is_array() || backoff.size() > kMaxBackoffSteps) {
    problems.push_back(
        {"spec.consumer.backoff",
         "must be a list of at most " + std::to_string(kMaxBackoffSteps) + " durations"});
    return;
  }
  for (size_t i = 0; i < backoff.size(); ++i) {
    std::string f = "spec.consumer.backoff[" + std::to_string(i) + "]";
    if (!backoff[i].is_string()) {
      problems.push_back({f, "must be a duration string such as 5s"});
      continue;
    }
    auto d = parseDurationWithin(backoff[i].get<std::string>(), nanoseconds(1), kMaxBackoffStep);
    if (!d) {
      problems.push_back({f, d.error().message});
    } else {
      s.consumer.backoff.push_back(d.value());
    }
  }
  if (s.consumer.maxDeliver != -1 &&
      static_cast<int64_t>(s.consumer.backoff.size()) >= s.consumer.maxDeliver) {
    problems.push_back({"spec.consumer.backoff", "must have fewer entries than maxDeliver"});
  }
}

void parseConsumer(const Reader& spec, ChannelSpec& s, std::vector<Problem>& problems) {
  Reader consumer = spec.child("consumer");
  s.consumer.durable = kConsumerName;
  s.consumer.ackWait = consumer.duration("ackWait", "30s", kMinAckWait, kMaxAckWait);
  s.consumer.maxDeliver = consumer.integer("maxDeliver", 5, -1, 1000000);
  if (s.consumer.maxDeliver == 0)
    problems.push_back({"spec.consumer.maxDeliver", "must be -1 or at least 1"});
  s.consumer.maxAckPending = consumer.integer("maxAckPending", 1000, 1, 1000000);
  parseBackoff(consumer, s, problems);
  s.deadLetterSubject = consumer.str("deadLetterSubject", "");
  if (s.deadLetterSubject.empty()) return;
  if (auto why = nats::subjectProblem(s.deadLetterSubject, nats::Wildcards::kForbidden)) {
    problems.push_back({"spec.consumer.deadLetterSubject", *why});
    return;
  }
  for (const auto& subj : s.subjects) {
    if (nats::subjectCovers(subj, s.deadLetterSubject)) {
      problems.push_back(
          {"spec.consumer.deadLetterSubject", "\"" + s.deadLetterSubject +
                                                  "\" is captured by the channel's own subject \"" +
                                                  subj + "\": dead letters would be redelivered"});
    }
  }
}

void parseWorker(const Reader& spec, ChannelSpec& s, std::vector<Problem>& problems) {
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
  if (auto why = http::pathProblem(s.appPath)) {
    problems.push_back({"spec.worker.app.path", *why});
    s.appPath = "/";
  }
}

void parseScaling(const Reader& spec, ChannelSpec& s, std::vector<Problem>& problems) {
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
}

// spec.gateway. Checked even while disabled, so a mistake shows before it is switched on.
void parseGateway(const Reader& spec, ChannelSpec& s, std::vector<Problem>& problems) {
  Reader gateway = spec.child("gateway");
  s.gateway.enabled = gateway.boolean("enabled", false);
  Reader publishers = gateway.child("publishers");
  if (publishers.has("secretRef")) {
    s.gateway.publishersSecret = publishers.child("secretRef").str("name", "");
    if (s.gateway.publishersSecret.empty())
      problems.push_back({"spec.gateway.publishers.secretRef.name", "is required"});
  }
  s.gateway.maxBacklog = gateway.integer("maxBacklog", 10000, 0, INT64_MAX);
  s.gateway.resultsMaxAge =
      gateway.duration("resultsMaxAge", "10m", kMinResultsMaxAge, kMaxResultsMaxAge);
}

}  // namespace

ParsedChannel parseChannel(const json& channel) {
  ParsedChannel out;
  auto& problems = out.problems;
  auto& s = out.spec;
  const json md = channel.contains("metadata") && channel["metadata"].is_object()
                      ? channel["metadata"]
                      : json::object();
  parseNames(md, problems);
  const std::string ns = metadataText(md, "namespace");
  const std::string name = metadataText(md, "name");
  Reader spec(channel.contains("spec") ? channel["spec"] : json::object(), "spec", problems);
  parseSubjects(spec, ns, name, s, problems);
  parseStream(spec, ns, name, s, problems);
  parseConsumer(spec, s, problems);
  s.deleteStreamOnDelete = spec.oneOf("deletionPolicy", "Retain", {"Retain", "Delete"}) == "Delete";
  Reader natsRef = spec.child("nats").child("secretRef");
  s.natsSecret = natsRef.str("name", "");
  if (spec.child("nats").has("secretRef") && s.natsSecret.empty()) {
    problems.push_back({"spec.nats.secretRef.name", "is required"});
  }
  parseWorker(spec, s, problems);
  // Used by the autoscaler; validated here so mistakes show at once.
  parseScaling(spec, s, problems);
  parseGateway(spec, s, problems);
  return out;
}

std::vector<Problem> subjectPolicyProblems(const std::string& ns, const ChannelSpec& spec,
                                           const SubjectPolicy& policy) {
  std::vector<Problem> problems;
  for (size_t i = 0; i < spec.subjects.size(); ++i) {
    if (auto why = subjectOwnershipProblem(ns, spec.subjects[i], policy))
      problems.push_back({"spec.subjects[" + std::to_string(i) + "]", *why});
  }
  if (!spec.deadLetterSubject.empty()) {
    if (auto why = subjectOwnershipProblem(ns, spec.deadLetterSubject, policy))
      problems.push_back({"spec.consumer.deadLetterSubject", *why});
  }
  return problems;
}

}  // namespace osmosis::api
