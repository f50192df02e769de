#pragma once

// Follows a stream from now on with a JetStream ordered consumer (ephemeral, flow-controlled,
// recreated by libnats from the last sequence seen after a gap or a reconnect): each new
// message matching `filterSubject` reaches the handler once, in stream order, with its
// sequence. The handler runs on libnats' delivery thread; keep it short. Destroying the
// follower unsubscribes and waits until no handler runs.

#include <functional>
#include <memory>
#include <string>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

class StreamFollower {
 public:
  using Handler = std::function<void(StoredMessage)>;
  static Result<std::unique_ptr<StreamFollower>> start(std::shared_ptr<Connection> conn,
                                                       const std::string& stream,
                                                       const std::string& filterSubject,
                                                       Handler handler);
  ~StreamFollower();
  StreamFollower(const StreamFollower&) = delete;
  StreamFollower& operator=(const StreamFollower&) = delete;

 private:
  StreamFollower(std::shared_ptr<Connection> conn, Handler handler)
      : conn_(std::move(conn)), handler_(std::move(handler)) {}
  static void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);

  std::shared_ptr<Connection> conn_;
  Handler handler_;
  jsCtx* js_ = nullptr;
  natsSubscription* sub_ = nullptr;
};

}  // namespace osmosis::nats
