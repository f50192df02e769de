#include "common/nats/stream_follower.hpp"

#include "common/log/logger.hpp"
#include "common/nats/error.hpp"

namespace osmosis::nats {

Result<std::unique_ptr<StreamFollower>> StreamFollower::start(std::shared_ptr<Connection> conn,
                                                              const std::string& stream,
                                                              const std::string& filterSubject,
                                                              Handler handler) {
  std::unique_ptr<StreamFollower> f(new StreamFollower(conn, std::move(handler)));
  natsStatus s = natsConnection_JetStream(&f->js_, conn->raw(), nullptr);
  if (s != NATS_OK) return toError(s, "starting JetStream for stream " + stream);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverNew;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  s = js_Subscribe(&f->sub_, f->js_, filterSubject.c_str(), &onMessage, f.get(), nullptr, &so,
                   &jerr);
  if (s != NATS_OK) return toError(s, "following stream " + stream, jerr);
  return f;
}

void StreamFollower::onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* self = static_cast<StreamFollower*>(closure);
  StoredMessage m;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    m.sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  m.subject = natsMsg_GetSubject(msg);
  const char* data = natsMsg_GetData(msg);
  m.data.assign(data != nullptr ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
  if (auto raw = rawHeaderBlock(msg)) {
    if (auto block = parseHeaderBlock(*raw)) m.headers = std::move(block->headers);
  } else {
    const char** keys = nullptr;
    int count = 0;
    if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
      for (int i = 0; i < count; ++i) {
        const char* v = nullptr;
        if (natsMsgHeader_Get(msg, keys[i], &v) == NATS_OK && v != nullptr)
          m.headers.emplace_back(keys[i], v);
      }
      free(static_cast<void*>(keys));
    }
  }
  natsMsg_Destroy(msg);
  if (m.sequence == 0) return;  // (not a JetStream message: flow control is libnats')
  try {
    self->handler_(std::move(m));
  } catch (const std::exception& e) {
    log::error("stream follower handler failed", {{"error", e.what()}});
  }
}

StreamFollower::~StreamFollower() {
  if (sub_ != nullptr) {
    if (natsSubscription_Drain(sub_) == NATS_OK)
      natsSubscription_WaitForDrainCompletion(sub_, 5000);
    else
      natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
  if (js_ != nullptr) jsCtx_Destroy(js_);
}

}  // namespace osmosis::nats
