#include "common/nats/jetstream_json.hpp"

#include <limits>

#include "common/util/base64.hpp"

namespace osmosis::nats {
namespace {

using nlohmann::json;

constexpr const char* kApiPrefix = "$JS.API";

const char* retentionName(Retention r) {
  switch (r) {
    case Retention::kLimits:
      return "limits";
    case Retention::kInterest:
      return "interest";
    case Retention::kWorkQueue:
      return "workqueue";
  }
  return "workqueue";
}

Error malformed(const std::string& what) {
  return makeError(Error::Code::kInternal, "malformed JetStream reply: " + what);
}

// Reads optional fields of a reply object, remembering the first one of a wrong type.
class Fields {
 public:
  explicit Fields(const json& obj) : obj_(obj) {}

  std::string str(const char* key) {
    const json* v = find(key);
    if (v == nullptr) return "";
    if (!v->is_string()) return fail(key, "a string"), "";
    return v->get<std::string>();
  }
  uint64_t u64(const char* key) {
    const json* v = find(key);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned()) {
      // (Zero and positive numbers parse as unsigned; anything else is wrong here.)
      return fail(key, "a non-negative integer"), 0;
    }
    return v->get<uint64_t>();
  }
  int64_t i64(const char* key) {
    const json* v = find(key);
    if (v == nullptr) return 0;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return fail(key, "an int64"), 0;
      return static_cast<int64_t>(u);
    }
    if (!v->is_number_integer()) return fail(key, "an integer"), 0;
    return v->get<int64_t>();
  }
  std::vector<std::string> strings(const char* key) {
    std::vector<std::string> out;
    const json* v = find(key);
    if (v == nullptr) return out;
    if (!v->is_array()) return fail(key, "a list of strings"), out;
    for (const auto& e : *v) {
      if (!e.is_string()) return fail(key, "a list of strings"), out;
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<nanoseconds> durations(const char* key) {
    std::vector<nanoseconds> out;
    const json* v = find(key);
    if (v == nullptr) return out;
    if (!v->is_array()) return fail(key, "a list of durations"), out;
    for (const auto& e : *v) {
      if (!e.is_number_integer()) return fail(key, "a list of durations"), out;
      out.emplace_back(e.get<int64_t>());
    }
    return out;
  }
  const json& object(const char* key) {
    static const json kEmpty = json::object();
    const json* v = find(key);
    if (v == nullptr) return kEmpty;
    if (!v->is_object()) return fail(key, "an object"), kEmpty;
    return *v;
  }
  std::optional<Error> problem() const { return problem_; }
  void merge(const Fields& other) {
    if (!problem_ && other.problem_) problem_ = other.problem_;
  }

 private:
  const json* find(const char* key) const {
    if (!obj_.is_object()) return nullptr;
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  void fail(const char* key, const char* want) {
    if (!problem_) problem_ = malformed(std::string(key) + " is not " + want);
  }

  const json& obj_;
  std::optional<Error> problem_;
};

}  // namespace

std::string streamApiSubject(std::string_view verb, std::string_view stream) {
  return std::string(kApiPrefix) + ".STREAM." + std::string(verb) + "." + std::string(stream);
}

std::string consumerApiSubject(std::string_view verb, std::string_view stream,
                               std::string_view consumer) {
  return std::string(kApiPrefix) + ".CONSUMER." + std::string(verb) + "." + std::string(stream) +
         "." + std::string(consumer);
}

json toApiJson(const StreamConfig& c) {
  return {
      {"name", c.name},
      {"subjects", c.subjects},
      {"retention", retentionName(c.retention)},
      {"storage", c.storage == Storage::kFile ? "file" : "memory"},
      {"num_replicas", c.replicas},
      {"max_age", c.maxAge.count()},
      {"max_bytes", c.maxBytes},
      {"max_msgs", c.maxMsgs},
      {"max_msg_size", c.maxMsgSize},
      {"max_consumers", -1},
      {"max_msgs_per_subject", -1},
      {"discard", c.discard == Discard::kOld ? "old" : "new"},
      {"duplicate_window", c.duplicateWindow.count()},
  };
}

json toApiJson(const std::string& stream, const ConsumerConfig& c) {
  json config = {
      {"durable_name", c.durable},          {"deliver_policy", "all"},
      {"ack_policy", "explicit"},           {"replay_policy", "instant"},
      {"ack_wait", c.ackWait.count()},      {"max_deliver", c.maxDeliver},
      {"max_ack_pending", c.maxAckPending},
  };
  if (!c.filterSubject.empty()) config["filter_subject"] = c.filterSubject;
  if (!c.backoff.empty()) {
    json backoff = json::array();
    for (auto d : c.backoff)
      backoff.push_back(d.count());
    config["backoff"] = backoff;
  }
  return {{"stream_name", stream}, {"config", config}};
}

std::optional<std::chrono::milliseconds> retryDelay(const Error& e, int attempt, ApiCall call) {
  if (attempt < 0 || attempt > 1) return std::nullopt;
  if (e.reason == "10008") return std::chrono::milliseconds(attempt == 0 ? 250 : 500);
  if (e.code == Error::Code::kTimeout && call == ApiCall::kRead && attempt == 0)
    return std::chrono::milliseconds(0);
  return std::nullopt;
}

Error::Code codeForJetStreamError(int errCode, int httpCode) {
  switch (errCode) {
    case 10059:  // stream not found
    case 10014:  // consumer not found
      return Error::Code::kNotFound;
    case 10058:  // stream name already in use with a different configuration
    case 10013:  // consumer name already in use
      return Error::Code::kAlreadyExists;
    case 10065:  // subjects overlap with an existing stream
    case 10105:  // consumer already exists and is still active
    case 10148:  // consumer already exists
      return Error::Code::kConflict;
    case 10039:  // JetStream not enabled for account
    case 10076:  // JetStream not enabled
    case 10008:  // JetStream system temporarily unavailable
      return Error::Code::kUnavailable;
    default:
      break;
  }
  switch (httpCode) {
    case 400:
      return Error::Code::kInvalidArgument;
    case 403:
      return Error::Code::kPermissionDenied;
    case 404:
      return Error::Code::kNotFound;
    case 408:
      return Error::Code::kTimeout;
    case 409:
      return Error::Code::kConflict;
    case 503:
      return Error::Code::kUnavailable;
    default:
      return Error::Code::kInternal;
  }
}

Result<json> parseApiReply(std::string_view reply, std::string_view doing) {
  json j = json::parse(reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    Error e = malformed("not a JSON object");
    e.message = std::string(doing) + ": " + e.message;
    return e;
  }
  auto err = j.find("error");
  if (err != j.end() && !err->is_null()) {
    Fields f(*err);
    const int64_t code = f.i64("code");
    const int64_t errCode = f.i64("err_code");
    std::string description = f.str("description");
    if (description.empty()) description = "JetStream API error";
    Error e = makeError(codeForJetStreamError(static_cast<int>(errCode), static_cast<int>(code)),
                        std::string(doing) + ": " + description);
    if (errCode != 0) e.message += " [JetStream error " + std::to_string(errCode) + "]";
    e.httpStatus = static_cast<int>(code);
    if (errCode != 0) e.reason = std::to_string(errCode);
    return e;
  }
  return j;
}

Result<StreamPage> parseStreamPage(const json& reply) {
  Fields top(reply);
  StreamPage page;
  page.total = top.u64("total");
  page.offset = top.u64("offset");
  page.missing = top.strings("missing");
  if (auto p = top.problem()) return *p;
  auto streams = reply.find("streams");
  if (streams == reply.end() || streams->is_null()) return page;  // (an empty account: null)
  if (!streams->is_array()) return malformed("stream list: streams is not a list");
  page.streams.reserve(streams->size());
  for (const auto& entry : *streams) {
    if (!entry.is_object()) return malformed("stream list: an entry is not an object");
    auto info = parseStreamInfo(entry);
    if (!info) return info.error();
    page.streams.push_back(std::move(info.value()));
  }
  return page;
}

Result<StoredMessage> parseStoredMessage(const json& reply) {
  Fields top(reply);
  Fields m(top.object("message"));
  StoredMessage out;
  out.subject = m.str("subject");
  const int64_t seq = m.i64("seq");
  if (out.subject.empty() || seq <= 0) return malformed("a stored message without subject or seq");
  out.sequence = static_cast<uint64_t>(seq);
  auto data = base64Decode(m.str("data"));
  if (!data) return malformed("a stored message whose data is not base64");
  out.data = std::move(*data);
  const std::string hdrs = m.str("hdrs");
  if (!hdrs.empty()) {
    auto raw = base64Decode(hdrs);
    if (!raw) return malformed("a stored message whose headers are not base64");
    if (auto block = parseHeaderBlock(*raw)) out.headers = std::move(block->headers);
  }
  return out;
}

namespace {
// No leader behind the answer: a cluster block naming none (the meta leader answering during an
// election), or a replicated stream or consumer (config.num_replicas > 1) answered with no
// cluster block at all (a restarted server answering from its own copy before it rejoined
// the group: seen in NatsClusterFaultTest, a backlog of 0 in the middle of 53,000).
bool clusteredWithoutLeader(const json& reply) {
  if (!reply.is_object()) return false;
  auto c = reply.find("cluster");
  if (c != reply.end() && c->is_object()) {
    auto l = c->find("leader");
    return l == c->end() || (l->is_string() && l->get_ref<const std::string&>().empty());
  }
  auto config = reply.find("config");
  if (config == reply.end() || !config->is_object()) return false;
  auto r = config->find("num_replicas");
  return r != config->end() && r->is_number_integer() && r->get<int64_t>() > 1;
}
}  // namespace

Result<StreamInfo> parseStreamInfo(const json& reply) {
  Fields top(reply);
  Fields c(top.object("config"));
  Fields st(top.object("state"));
  StreamInfo out;
  out.config.name = c.str("name");
  out.config.subjects = c.strings("subjects");
  const std::string retention = c.str("retention");
  out.config.retention = retention == "limits"     ? Retention::kLimits
                         : retention == "interest" ? Retention::kInterest
                                                   : Retention::kWorkQueue;
  out.config.storage = c.str("storage") == "memory" ? Storage::kMemory : Storage::kFile;
  out.config.replicas = static_cast<int>(c.i64("num_replicas"));
  out.config.maxAge = nanoseconds(c.i64("max_age"));
  out.config.maxBytes = c.i64("max_bytes");
  out.config.maxMsgs = c.i64("max_msgs");
  out.config.maxMsgSize = static_cast<int32_t>(c.i64("max_msg_size"));
  out.config.discard = c.str("discard") == "new" ? Discard::kNew : Discard::kOld;
  out.config.duplicateWindow = nanoseconds(c.i64("duplicate_window"));
  out.state.messages = st.u64("messages");
  out.state.bytes = st.u64("bytes");
  out.state.firstSequence = st.u64("first_seq");
  out.state.lastSequence = st.u64("last_seq");
  out.state.consumers = st.i64("consumer_count");
  Fields cluster(top.object("cluster"));
  out.leader = cluster.str("leader");
  out.leaderless = clusteredWithoutLeader(reply);
  top.merge(c);
  top.merge(st);
  top.merge(cluster);
  if (auto p = top.problem()) return *p;
  if (out.config.name.empty()) return malformed("stream info without config.name");
  return out;
}

Result<ConsumerInfo> parseConsumerInfo(const json& reply) {
  Fields top(reply);
  Fields c(top.object("config"));
  Fields delivered(top.object("delivered"));
  Fields ackFloor(top.object("ack_floor"));
  ConsumerInfo out;
  out.stream = top.str("stream_name");
  out.name = top.str("name");
  out.config.durable = c.str("durable_name");
  out.config.filterSubject = c.str("filter_subject");
  out.config.ackWait = nanoseconds(c.i64("ack_wait"));
  out.config.maxDeliver = c.i64("max_deliver");
  out.config.maxAckPending = c.i64("max_ack_pending");
  out.config.backoff = c.durations("backoff");
  out.numPending = top.u64("num_pending");
  out.numAckPending = top.i64("num_ack_pending");
  out.numRedelivered = top.i64("num_redelivered");
  out.numWaiting = top.i64("num_waiting");
  out.deliveredStreamSequence = delivered.u64("stream_seq");
  out.ackFloorStreamSequence = ackFloor.u64("stream_seq");
  Fields cluster(top.object("cluster"));
  out.leader = cluster.str("leader");
  out.leaderless = clusteredWithoutLeader(reply);
  for (const Fields* f : {&c, &delivered, &ackFloor, &cluster})
    top.merge(*f);
  if (auto p = top.problem()) return *p;
  if (out.name.empty()) return malformed("consumer info without name");
  return out;
}

Result<StreamInfo> requireLeader(Result<StreamInfo> info) {
  if (info && info->leaderless)
    return makeError(Error::Code::kUnavailable,
                     "no leader answered for stream " + info->config.name +
                         " (a JetStream election is under way); its figures are not used");
  return info;
}

Result<ConsumerInfo> requireLeader(Result<ConsumerInfo> info) {
  if (info && info->leaderless)
    return makeError(Error::Code::kUnavailable,
                     "no leader answered for consumer " + info->stream + "/" + info->name +
                         " (a JetStream election is under way); its figures are not used");
  return info;
}

}  // namespace osmosis::nats
