#include "common/nats/jetstream.hpp"

#include <cstring>

#include "common/nats/error.hpp"

namespace osmosis::nats {
namespace {

jsRetentionPolicy toNats(Retention r) {
  switch (r) {
    case Retention::kLimits:
      return js_LimitsPolicy;
    case Retention::kInterest:
      return js_InterestPolicy;
    case Retention::kWorkQueue:
      return js_WorkQueuePolicy;
  }
  return js_WorkQueuePolicy;
}

Retention fromNats(jsRetentionPolicy r) {
  switch (r) {
    case js_LimitsPolicy:
      return Retention::kLimits;
    case js_InterestPolicy:
      return Retention::kInterest;
    case js_WorkQueuePolicy:
      return Retention::kWorkQueue;
  }
  return Retention::kLimits;
}

// The libnats struct borrows pointers into `config` and `subjects`: keep both alive while used.
jsStreamConfig toNats(const StreamConfig& c, std::vector<const char*>& subjects) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = c.name.c_str();
  subjects.clear();
  for (const auto& s : c.subjects)
    subjects.push_back(s.c_str());
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Retention = toNats(c.retention);
  cfg.Storage = c.storage == Storage::kFile ? js_FileStorage : js_MemoryStorage;
  cfg.Replicas = c.replicas;
  cfg.MaxAge = c.maxAge.count();
  cfg.MaxBytes = c.maxBytes;
  cfg.MaxMsgs = c.maxMsgs;
  cfg.MaxMsgSize = c.maxMsgSize;
  cfg.Discard = c.discard == Discard::kOld ? js_DiscardOld : js_DiscardNew;
  cfg.Duplicates = c.duplicateWindow.count();
  return cfg;
}

StreamInfo fromNats(const jsStreamInfo* si) {
  StreamInfo out;
  const jsStreamConfig* c = si->Config;
  if (c != nullptr) {
    out.config.name = c->Name ? c->Name : "";
    for (int i = 0; i < c->SubjectsLen; ++i)
      out.config.subjects.emplace_back(c->Subjects[i]);
    out.config.retention = fromNats(c->Retention);
    out.config.storage = c->Storage == js_FileStorage ? Storage::kFile : Storage::kMemory;
    out.config.replicas = static_cast<int>(c->Replicas);
    out.config.maxAge = nanoseconds(c->MaxAge);
    out.config.maxBytes = c->MaxBytes;
    out.config.maxMsgs = c->MaxMsgs;
    out.config.maxMsgSize = c->MaxMsgSize;
    out.config.discard = c->Discard == js_DiscardOld ? Discard::kOld : Discard::kNew;
    out.config.duplicateWindow = nanoseconds(c->Duplicates);
  }
  out.state.messages = si->State.Msgs;
  out.state.bytes = si->State.Bytes;
  out.state.firstSequence = si->State.FirstSeq;
  out.state.lastSequence = si->State.LastSeq;
  out.state.consumers = si->State.Consumers;
  return out;
}

jsConsumerConfig toNats(const ConsumerConfig& c, std::vector<int64_t>& backoff) {
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = c.durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.DeliverPolicy = js_DeliverAll;
  cfg.AckWait = c.ackWait.count();
  cfg.MaxDeliver = c.maxDeliver;
  cfg.MaxAckPending = c.maxAckPending;
  if (!c.filterSubject.empty()) cfg.FilterSubject = c.filterSubject.c_str();
  backoff.clear();
  for (auto d : c.backoff)
    backoff.push_back(d.count());
  if (!backoff.empty()) {
    cfg.BackOff = backoff.data();
    cfg.BackOffLen = static_cast<int>(backoff.size());
  }
  return cfg;
}

ConsumerInfo fromNats(const jsConsumerInfo* ci) {
  ConsumerInfo out;
  out.stream = ci->Stream ? ci->Stream : "";
  out.name = ci->Name ? ci->Name : "";
  if (const jsConsumerConfig* c = ci->Config) {
    out.config.durable = c->Durable ? c->Durable : "";
    out.config.filterSubject = c->FilterSubject ? c->FilterSubject : "";
    out.config.ackWait = nanoseconds(c->AckWait);
    out.config.maxDeliver = c->MaxDeliver;
    out.config.maxAckPending = c->MaxAckPending;
    for (int i = 0; i < c->BackOffLen; ++i)
      out.config.backoff.emplace_back(c->BackOff[i]);
  }
  out.numPending = ci->NumPending;
  out.numAckPending = ci->NumAckPending;
  out.numRedelivered = ci->NumRedelivered;
  out.numWaiting = ci->NumWaiting;
  out.deliveredStreamSequence = ci->Delivered.Stream;
  out.ackFloorStreamSequence = ci->AckFloor.Stream;
  return out;
}

}  // namespace

// ---- Message ----

Message::Message(natsMsg* msg, std::shared_ptr<Connection> conn)
    : msg_(msg), conn_(std::move(conn)) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg_) == NATS_OK && meta != nullptr) {
    streamSequence_ = meta->Sequence.Stream;
    deliveryCount_ = meta->NumDelivered;
    numPending_ = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
  }
}

Message::~Message() {
  natsMsg_Destroy(msg_);
}

Message::Message(Message&& o) noexcept
    : msg_(std::exchange(o.msg_, nullptr)),
      conn_(std::move(o.conn_)),
      streamSequence_(o.streamSequence_),
      deliveryCount_(o.deliveryCount_),
      numPending_(o.numPending_) {}

Message& Message::operator=(Message&& o) noexcept {
  if (this != &o) {
    natsMsg_Destroy(msg_);
    msg_ = std::exchange(o.msg_, nullptr);
    conn_ = std::move(o.conn_);
    streamSequence_ = o.streamSequence_;
    deliveryCount_ = o.deliveryCount_;
    numPending_ = o.numPending_;
  }
  return *this;
}

std::string Message::subject() const {
  const char* s = natsMsg_GetSubject(msg_);
  return s ? s : "";
}

std::string_view Message::data() const {
  const char* d = natsMsg_GetData(msg_);
  return d ? std::string_view(d, static_cast<size_t>(natsMsg_GetDataLength(msg_)))
           : std::string_view();
}

Headers Message::headers() const {
  Headers out;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg_, &keys, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) {
    const char** values = nullptr;
    int nvalues = 0;
    if (natsMsgHeader_Values(msg_, keys[i], &values, &nvalues) == NATS_OK) {
      for (int j = 0; j < nvalues; ++j)
        out.emplace_back(keys[i], values[j]);
      free(static_cast<void*>(values));
    }
  }
  free(static_cast<void*>(keys));
  return out;
}

namespace {
Status settle(natsStatus s, const char* what, uint64_t sequence) {
  if (s != NATS_OK) return toError(s, std::string(what) + " message " + std::to_string(sequence));
  return {};
}
}  // namespace

Status Message::ack() {
  return settle(natsMsg_Ack(msg_, nullptr), "acking", streamSequence_);
}

Status Message::ackSync() {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = natsMsg_AckSync(msg_, nullptr, &jerr);
  if (s != NATS_OK) return toError(s, "acking message " + std::to_string(streamSequence_), jerr);
  return {};
}

Status Message::nak() {
  return settle(natsMsg_Nak(msg_, nullptr), "nakking", streamSequence_);
}

Status Message::nakWithDelay(std::chrono::milliseconds delay) {
  return settle(natsMsg_NakWithDelay(msg_, delay.count(), nullptr), "nakking", streamSequence_);
}

Status Message::inProgress() {
  return settle(natsMsg_InProgress(msg_, nullptr), "marking in progress", streamSequence_);
}

Status Message::term() {
  return settle(natsMsg_Term(msg_, nullptr), "terminating", streamSequence_);
}

namespace {
Status settleVia(Connection& via, natsMsg* msg, std::string_view payload, const char* what,
                 uint64_t sequence) {
  const char* reply = natsMsg_GetReply(msg);
  if (reply == nullptr || reply[0] == '\0')
    return makeError(Error::Code::kInvalidArgument,
                     std::string(what) + " message " + std::to_string(sequence) +
                         ": not a JetStream message (no reply subject)");
  return settle(
      natsConnection_Publish(via.raw(), reply, payload.data(), static_cast<int>(payload.size())),
      what, sequence);
}
}  // namespace

Status Message::ack(Connection& via) {
  return settleVia(via, msg_, "+ACK", "acking", streamSequence_);
}

Status Message::nak(Connection& via) {
  return settleVia(via, msg_, "-NAK", "nakking", streamSequence_);
}

Status Message::nakWithDelay(std::chrono::milliseconds delay, Connection& via) {
  const std::string payload =
      "-NAK {\"delay\":" +
      std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count()) + "}";
  return settleVia(via, msg_, payload, "nakking", streamSequence_);
}

Status Message::inProgress(Connection& via) {
  return settleVia(via, msg_, "+WPI", "marking in progress", streamSequence_);
}

Status Message::term(Connection& via) {
  return settleVia(via, msg_, "+TERM", "terminating", streamSequence_);
}

// ---- PullSubscription ----

PullSubscription::PullSubscription(natsSubscription* sub, std::shared_ptr<Connection> conn)
    : sub_(sub), conn_(std::move(conn)) {}

PullSubscription::~PullSubscription() {
  // Unsubscribe only drops interest; the durable consumer stays on the server. (A second
  // unsubscribe, after unsubscribe(), fails harmlessly.)
  if (sub_ != nullptr) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

Status PullSubscription::unsubscribe() {
  if (natsStatus s = natsSubscription_Unsubscribe(sub_); s != NATS_OK)
    return toError(s, "unsubscribing");
  return {};
}

PullSubscription::PullSubscription(PullSubscription&& o) noexcept
    : sub_(std::exchange(o.sub_, nullptr)), conn_(std::move(o.conn_)) {}

Result<std::vector<Message>> PullSubscription::fetch(int batch, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  std::vector<Message> out;
  for (;;) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) return out;
    natsMsgList list{nullptr, 0};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_Fetch(&list, sub_, batch, remaining.count(), &jerr);
    if (s == NATS_OK) {
      out.reserve(static_cast<size_t>(list.Count));
      for (int i = 0; i < list.Count; ++i) {
        out.emplace_back(list.Msgs[i], conn_);
        list.Msgs[i] = nullptr;  // now owned by `out`
      }
      natsMsgList_Destroy(&list);
      return out;
    }
    natsMsgList_Destroy(&list);
    if (s != NATS_TIMEOUT) return toError(s, "fetching messages", jerr);
  }
}

// ---- JetStream ----

Result<JetStream> JetStream::create(std::shared_ptr<Connection> conn,
                                    std::chrono::milliseconds apiTimeout) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = apiTimeout.count();
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, conn->raw(), &opts); s != NATS_OK) {
    return toError(s, "creating JetStream context");
  }
  return JetStream(js, std::move(conn));
}

JetStream::~JetStream() {
  jsCtx_Destroy(js_);
}

JetStream::JetStream(JetStream&& o) noexcept
    : js_(std::exchange(o.js_, nullptr)), conn_(std::move(o.conn_)) {}

Result<StreamInfo> JetStream::addStream(const StreamConfig& config) {
  std::vector<const char*> subjects;
  jsStreamConfig cfg = toNats(config, subjects);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
  if (s != NATS_OK) return toError(s, "creating stream " + config.name, jerr);
  StreamInfo out = fromNats(si);
  jsStreamInfo_Destroy(si);
  return out;
}

Result<StreamInfo> JetStream::updateStream(const StreamConfig& config) {
  std::vector<const char*> subjects;
  jsStreamConfig cfg = toNats(config, subjects);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_UpdateStream(&si, js_, &cfg, nullptr, &jerr);
  if (s != NATS_OK) return toError(s, "updating stream " + config.name, jerr);
  StreamInfo out = fromNats(si);
  jsStreamInfo_Destroy(si);
  return out;
}

Result<StreamInfo> JetStream::streamInfo(const std::string& name) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return toError(s, "reading stream " + name, jerr);
  StreamInfo out = fromNats(si);
  jsStreamInfo_Destroy(si);
  return out;
}

Status JetStream::deleteStream(const std::string& name) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(js_, name.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return toError(s, "deleting stream " + name, jerr);
  return {};
}

Result<ConsumerInfo> JetStream::addOrUpdateConsumer(const std::string& stream,
                                                    const ConsumerConfig& config) {
  std::vector<int64_t> backoff;
  jsConsumerConfig cfg = toNats(config, backoff);
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  // With a durable name the server creates or updates (js_UpdateConsumer is the same call).
  natsStatus s = js_AddConsumer(&ci, js_, stream.c_str(), &cfg, nullptr, &jerr);
  if (s != NATS_OK) {
    return toError(s, "creating consumer " + config.durable + " on stream " + stream, jerr);
  }
  ConsumerInfo out = fromNats(ci);
  jsConsumerInfo_Destroy(ci);
  return out;
}

Result<ConsumerInfo> JetStream::consumerInfo(const std::string& stream,
                                             const std::string& consumer) {
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, js_, stream.c_str(), consumer.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return toError(s, "reading consumer " + stream + "/" + consumer, jerr);
  ConsumerInfo out = fromNats(ci);
  jsConsumerInfo_Destroy(ci);
  return out;
}

Status JetStream::deleteConsumer(const std::string& stream, const std::string& consumer) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer(js_, stream.c_str(), consumer.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return toError(s, "deleting consumer " + stream + "/" + consumer, jerr);
  return {};
}

Result<uint64_t> JetStream::publish(const std::string& subject, std::string_view data,
                                    const std::string& msgId, const Headers& headers) {
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  for (const auto& [k, v] : headers) {
    if (s == NATS_OK) s = natsMsgHeader_Add(msg, k.c_str(), v.c_str());
  }
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return toError(s, "building message for " + subject);
  }
  jsPubOptions opts;
  jsPubOptions_Init(&opts);
  if (!msgId.empty()) opts.MsgId = msgId.c_str();
  jsPubAck* ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&ack, js_, msg, &opts, &jerr);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) return toError(s, "publishing to " + subject, jerr);
  uint64_t seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  return seq;
}

Result<PullSubscription> JetStream::pullSubscribe(const std::string& stream,
                                                  const std::string& consumer) {
  jsSubOptions subOpts;
  jsSubOptions_Init(&subOpts);
  subOpts.Stream = stream.c_str();
  subOpts.Consumer = consumer.c_str();
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  // The subject is ignored when binding to an existing consumer.
  natsStatus s = js_PullSubscribe(&sub, js_, nullptr, consumer.c_str(), nullptr, &subOpts, &jerr);
  if (s != NATS_OK) return toError(s, "binding to consumer " + stream + "/" + consumer, jerr);
  return PullSubscription(sub, conn_);
}

}  // namespace osmosis::nats
