#pragma once

// The project's HTTP/1.1 server (keep-alive), on Boost.Beast and Boost.Asio: a small fixed
// number of threads serve every connection (no thread per connection), with a cap on open
// connections and a timeout on every phase, so that no client can exhaust threads or memory.
// Serves /healthz, /readyz and /metrics of both binaries, and the test app.
//
// Handlers answer either at once (Handler, run on a server thread: keep it quick) or later
// from any thread through a Responder (AsyncHandler). Through the Responder an answer can also
// be a stream: a chunked response sent in parts (server-sent events), or a WebSocket the
// request asked to upgrade to (Beast does the handshake, framing, pings and close).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/util/result.hpp"

namespace boost::asio {
class io_context;
}

namespace osmosis::http {

namespace detail {
struct Core;
class Session;
}  // namespace detail

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  std::string target;  // path and query as sent
  HeaderList headers;
  std::string body;
  // Case-insensitive lookup; empty when absent.
  std::string header(std::string_view name) const;
  bool hasHeader(std::string_view name) const;
  std::string path() const { return target.substr(0, target.find('?')); }
  // A valid WebSocket upgrade request (Responder::acceptWebSocket may accept it).
  bool webSocketUpgrade = false;
  // The peer's IPv4 address ("127.0.0.1"), for per-client limits.
  std::string peer;
};

struct Response {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  HeaderList headers;
};

// Splits "host:port" (host may be empty or "0.0.0.0" for every interface). Port 0 is allowed.
Result<std::pair<std::string, int>> parseListenAddress(const std::string& address);

struct ServerOptions {
  int threads = 1;
  // Open connections at most. A new one over the cap closes the oldest connection that is
  // waiting for a request (idle keep-alive, or a head still arriving); when every connection
  // is busy in a handler or an answer, the new one is closed instead.
  size_t maxConnections = 64;
  // Waiting for a request's first byte (a new connection, or between keep-alive requests).
  std::chrono::milliseconds idleTimeout{std::chrono::seconds(30)};
  // From a request's first byte to the end of its head (slow senders).
  std::chrono::milliseconds headerTimeout{std::chrono::seconds(10)};
  std::chrono::milliseconds bodyTimeout{std::chrono::seconds(30)};
  std::chrono::milliseconds writeTimeout{std::chrono::seconds(10)};
  uint32_t maxHeaderBytes = 16 * 1024;
  // A larger body is refused with 413 (and the connection closed) before it is read.
  uint64_t maxBodyBytes = 1024;
  // A stream whose client has more than this waiting to be sent is closed (slow reader).
  size_t maxStreamQueueBytes = 1024 * 1024;
  // A WebSocket message from the client larger than this closes the WebSocket.
  size_t maxWebSocketMessageBytes = 64 * 1024;

  // /healthz, /readyz, /metrics: GET-only endpoints scraped by the kubelet and Prometheus; a
  // few connections, no bodies.
  static ServerOptions health() { return ServerOptions{}; }
};

namespace detail {
struct StreamState;
}

// An answer sent in parts: a chunked HTTP response, or a WebSocket's text messages. Copyable
// handle; thread-safe; parts go out in order. A client that reads too slowly (more than
// ServerOptions::maxStreamQueueBytes waiting) or goes away ends the stream; onClosed runs
// once, on a server thread, however it ends (keep it quick; it may not call close()); at once
// when the server has stopped already.
class Stream {
 public:
  Stream() = default;
  // Queues one part (a chunk, or one WebSocket text message); false when the stream is over.
  bool send(std::string part) const;
  // Ends the stream: the last chunk (the connection may serve another request), or a
  // WebSocket close frame. Parts queued before are sent first.
  void close() const;
  bool open() const;
  explicit operator bool() const { return state_ != nullptr; }

 private:
  friend class Responder;
  explicit Stream(std::shared_ptr<detail::StreamState> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::StreamState> state_;
};

// One request's answer. Copyable handle; thread-safe. If every copy is dropped unanswered the
// client gets a 500.
class Responder {
 public:
  // Sends the answer; only the first call counts. Does nothing once the server stopped.
  void respond(Response response) const;
  // Answers with `head` (status, type and headers; its body is ignored) and then streams.
  // Counts as the answer. An empty Stream when the request was answered already.
  Stream stream(Response head, std::function<void()> onClosed = {}) const;
  // Accepts the request's WebSocket upgrade (Request::webSocketUpgrade must be true, else
  // this answers 400). `onText` gets each message the client sends (on a server thread).
  Stream acceptWebSocket(std::function<void(std::string)> onText,
                         std::function<void()> onClosed = {}) const;

 private:
  friend class detail::Session;
  struct Exchange;
  template <typename Begin>
  Stream startStream(std::function<void()> onClosed, bool sessionStreams, Begin begin) const;
  explicit Responder(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  std::shared_ptr<Exchange> exchange_;
};

class Server {
 public:
  // Answers at once, on a server thread (a handler that blocks holds up other connections).
  using Handler = std::function<Response(const Request&)>;
  // Answers through the Responder, from any thread, whenever it likes.
  using AsyncHandler = std::function<void(Request&&, Responder)>;

  // Binds host:port (port 0: an ephemeral port, see port()) and starts serving.
  static Result<std::unique_ptr<Server>> start(const std::string& host, int port, Handler handler,
                                               ServerOptions options = ServerOptions::health());
  static Result<std::unique_ptr<Server>> startAsync(const std::string& host, int port,
                                                    AsyncHandler handler, ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  // The server's io_context, for I/O that should run on its threads (the gateway's NATS
  // publishing connection). Valid until the Server is destroyed; runs until stop().
  boost::asio::io_context& context();
  // Connections open now (for tests and metrics).
  size_t connections() const;
  // Stops accepting, closes every connection, joins the threads. Answers given later are
  // dropped.
  void stop();

 private:
  explicit Server(std::shared_ptr<detail::Core> core, int port);
  std::shared_ptr<detail::Core> core_;
  int port_;
};

}  // namespace osmosis::http
