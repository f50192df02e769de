#pragma once

// A core NATS subscription with a callback (reports, wake-ups): no JetStream, no acks. The
// callback runs on libnats' delivery thread for this subscription; keep it short. Destroying
// the Subscription unsubscribes and waits until no callback is running.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/nats/client.hpp"
#include "common/nats/connection.hpp"

namespace osmosis::nats {

class Subscription final : public Listening {
 public:
  using Handler = Client::Handler;

  static Result<std::unique_ptr<Subscription>> subscribe(std::shared_ptr<Connection> conn,
                                                         const std::string& subject,
                                                         Handler handler);
  ~Subscription() override;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  const std::string& subject() const { return subject_; }

 private:
  Subscription(std::shared_ptr<Connection> conn, std::string subject, Handler handler)
      : conn_(std::move(conn)), subject_(std::move(subject)), handler_(std::move(handler)) {}
  static void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);

  std::shared_ptr<Connection> conn_;
  std::string subject_;
  Handler handler_;
  natsSubscription* sub_ = nullptr;
};

}  // namespace osmosis::nats
