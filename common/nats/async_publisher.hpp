#pragma once

// JetStream publishes that do not hold a thread while the stream acknowledges: each publish
// returns at once and its outcome (the PublishAck, or the error: the stream's refusal, or no
// acknowledgement within `maxWait`) reaches a callback on libnats' thread. The gateway answers
// a POST from there, so no thread waits per request (docs/gateway.md, benchmark).

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

class AsyncPublisher {
 public:
  using Done = std::function<void(Result<PublishAck>)>;
  // At most `maxPending` publishes in flight; a publish over it waits up to `stallWait`.
  static Result<std::unique_ptr<AsyncPublisher>> create(
      std::shared_ptr<Connection> conn, std::chrono::milliseconds maxWait = std::chrono::seconds(5),
      int64_t maxPending = 4096);
  // Waits briefly for what is in flight; the rest is answered with an error.
  ~AsyncPublisher();
  AsyncPublisher(const AsyncPublisher&) = delete;
  AsyncPublisher& operator=(const AsyncPublisher&) = delete;

  // `done` runs exactly once: on libnats' thread, or here when the publish cannot start.
  void publish(const std::string& subject, std::string_view data, const std::string& msgId,
               const Headers& headers, Done done);

 private:
  AsyncPublisher(std::shared_ptr<Connection> conn, std::chrono::milliseconds maxWait)
      : conn_(std::move(conn)), maxWait_(maxWait) {}
  static void onAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  Done take(natsMsg* msg);

  std::shared_ptr<Connection> conn_;
  std::chrono::milliseconds maxWait_;
  jsCtx* js_ = nullptr;
  std::mutex mu_;
  std::unordered_map<natsMsg*, Done> pending_;  // by the message libnats hands back
};

}  // namespace osmosis::nats
