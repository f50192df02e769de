#pragma once

// JetStream publishes that do not hold a thread while the stream acknowledges, on a connection
// run by an io_context (asio_loop.hpp). Each publish carries a reply subject under this
// publisher's inbox; the acknowledgements are read, after each read of the socket, on the
// io_context's thread that read them, and their callbacks run there. So a POST is answered on
// an HTTP thread without waking another thread: libnats' asynchronous publish hands every
// acknowledgement from its reader thread to a delivery thread, which then woke an HTTP thread,
// and freed each message on its garbage-collector thread (docs/gateway.md, benchmark).
//
// With TLS the connection gets an io_context and a thread of its own instead: libnats waits
// inside a TLS read or write that needs the other direction (a blocking poll), which must not
// stall the HTTP thread.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/nats/connection.hpp"
#include "common/nats/jetstream_types.hpp"
#include "common/util/result.hpp"

namespace boost::asio {
class io_context;
}

namespace osmosis::nats {

class LoopPublisher {
 public:
  using Done = std::function<void(Result<PublishAck>)>;
  // Connects with `options` on `io`, which must run until close() (the publisher may be
  // destroyed while it still runs). No acknowledgement within `maxWait` is a timeout.
  static Result<std::unique_ptr<LoopPublisher>> connect(
      ConnectionOptions options, boost::asio::io_context& io,
      std::chrono::milliseconds maxWait = std::chrono::seconds(5));
  // close(); what is still waiting is answered with an error.
  ~LoopPublisher();
  LoopPublisher(const LoopPublisher&) = delete;
  LoopPublisher& operator=(const LoopPublisher&) = delete;

  // Closes the connection and leaves the io_context nothing to wait for (call before stopping
  // the io_context's threads: they end only once no work is left). Publishes fail from now.
  void close();

  // `done` runs exactly once: on an io_context thread, or here when the publish cannot start.
  void publish(const std::string& subject, std::string_view data, const std::string& msgId,
               const Headers& headers, Done done);
  bool connected() const;
  // Publishes waiting for their acknowledgement (tests, metrics).
  size_t pending() const;

 private:
  struct State;  // shared with the handlers on the io_context, which may outlive this
  struct OwnLoop;
  LoopPublisher() = default;
  std::unique_ptr<OwnLoop> own_;  // (TLS; declared first: destroyed last)
  std::shared_ptr<State> state_;
  std::shared_ptr<Connection> conn_;
};

}  // namespace osmosis::nats
