#include "common/nats/subscription.hpp"

#include "common/nats/error.hpp"

namespace osmosis::nats {

Result<std::unique_ptr<Subscription>> Subscription::subscribe(std::shared_ptr<Connection> conn,
                                                              const std::string& subject,
                                                              Handler handler) {
  std::unique_ptr<Subscription> s(new Subscription(conn, subject, std::move(handler)));
  natsStatus st =
      natsConnection_Subscribe(&s->sub_, conn->raw(), subject.c_str(), &onMessage, s.get());
  if (st != NATS_OK) return toError(st, "subscribing to " + subject);
  return s;
}

void Subscription::onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* self = static_cast<Subscription*>(closure);
  const char* data = natsMsg_GetData(msg);
  self->handler_(
      natsMsg_GetSubject(msg),
      std::string_view(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg))));
  natsMsg_Destroy(msg);
}

Subscription::~Subscription() {
  if (!sub_) return;
  // Drain, then wait: once the drain completes no callback runs or will run, so the handler's
  // captures may go. On a closed connection there is nothing to drain and nothing running.
  if (natsSubscription_Drain(sub_) == NATS_OK) {
    natsSubscription_WaitForDrainCompletion(sub_, 5000);
  } else {
    natsSubscription_Unsubscribe(sub_);
  }
  natsSubscription_Destroy(sub_);
}

}  // namespace osmosis::nats
