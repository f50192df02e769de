#include "common/nats/async_publisher.hpp"

#include "common/log/logger.hpp"
#include "common/nats/error.hpp"

namespace osmosis::nats {

Result<std::unique_ptr<AsyncPublisher>> AsyncPublisher::create(std::shared_ptr<Connection> conn,
                                                               std::chrono::milliseconds maxWait,
                                                               int64_t maxPending) {
  std::unique_ptr<AsyncPublisher> p(new AsyncPublisher(conn, maxWait));
  jsOptions o;
  jsOptions_Init(&o);
  o.PublishAsync.MaxPending = maxPending;
  o.PublishAsync.AckHandler = &onAck;
  o.PublishAsync.AckHandlerClosure = p.get();
  o.PublishAsync.StallWait = 200;
  natsStatus s = natsConnection_JetStream(&p->js_, conn->raw(), &o);
  if (s != NATS_OK) return toError(s, "starting JetStream for asynchronous publishes");
  return p;
}

AsyncPublisher::~AsyncPublisher() {
  if (js_ == nullptr) return;
  jsPubOptions o;
  jsPubOptions_Init(&o);
  o.MaxWait = 2000;
  js_PublishAsyncComplete(js_, &o);  // (a timeout leaves the rest to the loop below)
  jsCtx_Destroy(js_);
  std::unordered_map<natsMsg*, Done> left;
  {
    std::lock_guard lock(mu_);
    left.swap(pending_);
  }
  for (auto& [msg, done] : left)
    done(makeError(Error::Code::kUnavailable, "stopped before the stream acknowledged"));
}

AsyncPublisher::Done AsyncPublisher::take(natsMsg* msg) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(msg);
  if (it == pending_.end()) return nullptr;
  Done done = std::move(it->second);
  pending_.erase(it);
  return done;
}

void AsyncPublisher::publish(const std::string& subject, std::string_view data,
                             const std::string& msgId, const Headers& headers, Done done) {
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  for (const auto& [k, v] : headers)
    if (s == NATS_OK) s = natsMsgHeader_Add(msg, k.c_str(), v.c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return done(toError(s, "building message for " + subject));
  }
  {
    // Registered first: the acknowledgement may come before js_PublishMsgAsync returns.
    std::lock_guard lock(mu_);
    pending_[msg] = std::move(done);
  }
  jsPubOptions o;
  jsPubOptions_Init(&o);
  if (!msgId.empty()) o.MsgId = msgId.c_str();
  o.MaxWait = maxWait_.count();
  natsMsg* owned = msg;
  s = js_PublishMsgAsync(js_, &owned, &o);
  if (s != NATS_OK) {
    Done failed = take(msg);
    natsMsg_Destroy(owned);  // (still ours when the call failed)
    if (failed) failed(toError(s, "publishing to " + subject));
  }
}

void AsyncPublisher::onAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* self = static_cast<AsyncPublisher*>(closure);
  Done done = self->take(msg);
  const std::string subject = natsMsg_GetSubject(msg) != nullptr ? natsMsg_GetSubject(msg) : "";
  natsMsg_Destroy(msg);
  if (!done) return;
  try {
    if (pa != nullptr) {
      done(PublishAck{pa->Stream != nullptr ? pa->Stream : "", pa->Sequence, pa->Duplicate});
    } else if (pae != nullptr) {
      Error e = toError(pae->Err, "publishing to " + subject, pae->ErrCode);
      if (pae->ErrText != nullptr && e.message.find(pae->ErrText) == std::string::npos)
        e.message += std::string(" (") + pae->ErrText + ")";
      done(std::move(e));
    } else {
      done(makeError(Error::Code::kInternal, "publishing to " + subject + ": no outcome"));
    }
  } catch (const std::exception& e) {
    log::error("publish completion failed", {{"error", e.what()}});
  }
}

}  // namespace osmosis::nats
