#pragma once

// JetStream publishes that do not hold a thread while the stream acknowledges, on a connection
// run by an io_context (asio_loop.hpp). Each publish carries a reply subject under this
// publisher's inbox; the acknowledgements are read, after each read of the socket, on the
// io_context's thread that read them, and their callbacks run there. So a POST is answered on
// an HTTP thread without waking another thread: libnats' asynchronous publish hands every
// acknowledgement from its reader thread to a delivery thread, which then woke an HTTP thread,
// and freed each message on its garbage-collector thread (docs/gateway.md, benchmark).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/nats/asio_loop.hpp"
#include "common/nats/connection.hpp"
#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace osmosis::nats {

class LoopPublisher {
 public:
  using Done = std::function<void(Result<PublishAck>)>;
  // Connects with `options` on `io` (which must run until this is destroyed, and stop running
  // handlers before it is: stop its threads first). No acknowledgement within `maxWait` is a
  // timeout.
  static Result<std::unique_ptr<LoopPublisher>> connect(
      ConnectionOptions options, boost::asio::io_context& io,
      std::chrono::milliseconds maxWait = std::chrono::seconds(5));
  // What is still waiting is answered with an error.
  ~LoopPublisher();
  // Closes the connection and leaves the io_context nothing to wait for (call before stopping
  // the io_context's threads: they end only once no work is left). Publishes fail from now.
  void close();
  LoopPublisher(const LoopPublisher&) = delete;
  LoopPublisher& operator=(const LoopPublisher&) = delete;

  // `done` runs exactly once: on an io_context thread, or here when the publish cannot start.
  void publish(const std::string& subject, std::string_view data, const std::string& msgId,
               const Headers& headers, Done done);
  bool connected() const { return conn_ && conn_->connected(); }
  // Publishes waiting for their acknowledgement (tests, metrics).
  size_t pending() const;

 private:
  explicit LoopPublisher(std::chrono::milliseconds maxWait);
  void drain();  // the acknowledgements that arrived (io_context thread, after a read)
  void expire();
  void finish(uint64_t id, Result<PublishAck> outcome);
  void destroyLater(natsMsg* msg);

  struct Waiting {
    Done done;
    std::string subject;
    std::chrono::steady_clock::time_point deadline;
  };
  const std::chrono::milliseconds maxWait_;
  std::atomic<bool> closed_{false};
  AsioLoop loop_;  // (before conn_: libnats uses it until the connection is gone)
  std::string inbox_;
  std::shared_ptr<Connection> conn_;
  natsSubscription* sub_ = nullptr;
  struct Timer;
  std::unique_ptr<Timer> timer_;
  mutable std::mutex mu_;
  uint64_t next_ = 0;
  std::unordered_map<uint64_t, Waiting> waiting_;
  // Messages are destroyed a batch at a time: libnats frees each destroyed message on its
  // garbage-collector thread, woken for every one when it is idle.
  std::mutex spentMu_;
  std::vector<natsMsg*> spent_;
};

}  // namespace osmosis::nats
