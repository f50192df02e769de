#include "common/http/server.hpp"

#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <strings.h>
#include <thread>

#include "common/log/logger.hpp"

namespace osmosis::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// After a refusal (413, 400, ...) the connection is closed, but unread request bytes would make
// the close a reset that can destroy the answer before the client reads it: read and drop a
// little first, as web servers do (a "lingering close").
constexpr size_t kLingerBytes = 256 * 1024;
constexpr std::chrono::seconds kLingerTime{1};

// Header values we write come from our own handlers; CR, LF and NUL would still end the header.
std::string headerSafe(std::string value) {
  for (char& c : value)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  return value;
}

// At most one log line per second for a repeated accept failure (EMFILE under a flood).
bool logAcceptFailureNow() {
  static std::atomic<int64_t> last{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t before = last.load();
  return now != before && last.compare_exchange_strong(before, now);
}

}  // namespace

namespace detail {

// A connection the server tracks (for the cap and for stop()): an HTTP session, or a
// WebSocket it became.
class Link {
 public:
  virtual ~Link() = default;
  virtual void close() = 0;
  // Closing it loses nothing: no request is being handled or answered.
  virtual bool evictable() const = 0;
  virtual asio::any_io_executor linkExecutor() = 0;
};

// What a Stream handle drives: a chunked HTTP answer or a WebSocket. Its methods are called on
// the link's executor only.
class Streamer {
 public:
  virtual ~Streamer() = default;
  virtual void enqueue(std::string part) = 0;
  virtual void finish() = 0;
  virtual asio::any_io_executor streamExecutor() = 0;
};

struct Core;

// Shared by the Stream handles and the link. `streamer` is touched on `executor` only (the
// link's strand, which a WebSocket keeps from the session it was upgraded from).
struct StreamState {
  std::shared_ptr<Core> core;
  asio::any_io_executor executor;
  std::shared_ptr<Streamer> streamer;
  std::atomic<bool> open{true};
  std::function<void()> onClosed;
  // Once, on the executor.
  void ended() {
    streamer = nullptr;
    if (!open.exchange(false)) return;
    if (!onClosed) return;
    try {
      onClosed();
    } catch (const std::exception& e) {
      log::error("stream close handler failed", {{"error", e.what()}});
    }
    onClosed = nullptr;
  }
};

// The parts a stream has still to send, one being written at a time (executor only). Bounded:
// a client that reads too slowly is closed rather than buffered without end.
class OutQueue {
 public:
  // False when the bytes waiting would pass `cap` (the caller closes the stream).
  bool push(std::string part, size_t cap, const char* what) {
    bytes_ += part.size();
    if (bytes_ > cap) {
      log::warn(std::string("closing a ") + what + " whose client reads too slowly",
                {{"queuedBytes", static_cast<int64_t>(bytes_)}});
      return false;
    }
    parts_.push_back(std::move(part));
    return true;
  }
  bool empty() const { return parts_.empty(); }
  // The next part to write; it stays valid until written().
  const std::string& take() {
    current_ = std::move(parts_.front());
    parts_.pop_front();
    return current_;
  }
  void written() {
    bytes_ -= current_.size();
    current_.clear();
  }

 private:
  std::deque<std::string> parts_;
  std::string current_;
  size_t bytes_ = 0;
};

struct Core {
  Core(ServerOptions o, Server::AsyncHandler h)
      : io(std::max(o.threads, 1)),
        options(o),
        handler(std::move(h)),
        acceptor(asio::make_strand(io)),
        retry(acceptor.get_executor()) {}

  asio::io_context io;
  // Until stop() has posted its last close: a moment without pending operations would
  // otherwise end run() for good, and handlers posted after it would never run.
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  const ServerOptions options;
  const Server::AsyncHandler handler;
  tcp::acceptor acceptor;    // on its own strand, with `retry`
  asio::steady_timer retry;  // accepting again after a failure (out of descriptors)
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};

  // Guards `stopped` and `sessions`. Nothing that can drop the last reference to a Session
  // may run under it: ~Session takes it.
  std::mutex mu;
  bool stopped = false;
  struct Entry {
    std::weak_ptr<Link> session;
    Link* raw;  // valid under `mu`: the link's destructor removes the entry under `mu` first
  };
  std::list<Entry> sessions;  // oldest first
};

class WsSession;

class Session : public Link, public Streamer, public std::enable_shared_from_this<Session> {
 public:
  enum class Phase { kWaiting, kHead, kBody, kHandling, kWriting, kStreaming, kClosing, kClosed };

  Session(std::shared_ptr<Core> core, tcp::socket socket)
      : core_(std::move(core)),
        stream_(std::move(socket)),
        buffer_(core_->options.maxHeaderBytes + 8192) {}

  ~Session() override {
    if (!listed_) return;
    std::lock_guard lock(core_->mu);
    core_->sessions.erase(entry_);
  }

  Core& core() { return *core_; }
  const std::shared_ptr<Core>& sharedCore() const { return core_; }
  auto executor() { return stream_.get_executor(); }
  asio::any_io_executor linkExecutor() override { return stream_.get_executor(); }
  asio::any_io_executor streamExecutor() override { return stream_.get_executor(); }
  bool evictable() const override {
    Phase p = phase_.load();
    return p == Phase::kWaiting || p == Phase::kHead || p == Phase::kClosing;
  }
  void list(std::list<Core::Entry>::iterator entry) {
    entry_ = entry;
    listed_ = true;
  }

  void run() { waitForRequest(); }

  void close() override {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    if (auto st = std::exchange(streamState_, nullptr)) st->ended();
  }

  // ---- a streamed answer (chunked; HTTP/1.0: raw until the connection closes) ----

  void beginStream(Response r, std::shared_ptr<StreamState> state) {
    if (phase_ != Phase::kHandling) {  // closed meanwhile
      state->ended();
      return;
    }
    phase_ = Phase::kStreaming;
    streamState_ = std::move(state);
    auto& head = streamHead_.emplace();
    head.version(version_);
    head.result(static_cast<unsigned>(r.status >= 100 && r.status <= 999 ? r.status : 500));
    head.set(bhttp::field::content_type, headerSafe(std::move(r.contentType)));
    for (auto& [k, v] : r.headers)
      head.insert(k, headerSafe(std::move(v)));
    // The connection ends with the stream: a client that asked for it to stay open would
    // otherwise wait on a half-known state (and the disconnect watch below owns the reads).
    head.keep_alive(false);
    chunked_ = version_ >= 11;
    if (chunked_) head.chunked(true);
    auto& sr = streamSerializer_.emplace(head);
    writing_ = true;
    stream_.expires_after(core_->options.writeTimeout);
    bhttp::async_write_header(stream_, sr, [self = shared_from_this()](error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->close();
      if (self->head_) return self->close();  // HEAD: the head is all
      self->watchForDisconnect();
      self->pump();
    });
  }

  void enqueue(std::string part) override {
    if (phase_ != Phase::kStreaming || finishing_ || part.empty()) return;
    if (!out_.push(std::move(part), core_->options.maxStreamQueueBytes, "stream")) return close();
    pump();
  }

  void finish() override {
    if (phase_ != Phase::kStreaming) return;
    finishing_ = true;
    pump();
  }

 private:
  // While streaming nothing else is read, but a client that goes away must end the stream at
  // once (a read of the raw socket, so the write timeout does not apply to it).
  void watchForDisconnect() {
    stream_.socket().async_read_some(
        asio::buffer(drain_), [self = shared_from_this()](error_code ec, size_t) {
          if (ec) return self->close();
          self->watchForDisconnect();  // (bytes sent while streaming are dropped)
        });
  }

  void pump() {
    if (writing_ || phase_ != Phase::kStreaming) return;
    if (out_.empty()) {
      if (!finishing_) {
        stream_.expires_never();
        return;
      }
      if (!chunked_) return close();
      writing_ = true;
      stream_.expires_after(core_->options.writeTimeout);
      asio::async_write(stream_, bhttp::make_chunk_last(),
                        [self = shared_from_this()](error_code, size_t) { self->close(); });
      return;
    }
    const std::string& part = out_.take();
    writing_ = true;
    stream_.expires_after(core_->options.writeTimeout);
    auto done = [self = shared_from_this()](error_code ec, size_t) {
      self->writing_ = false;
      self->out_.written();
      if (ec) return self->close();
      self->pump();
    };
    if (chunked_)
      asio::async_write(stream_, bhttp::make_chunk(asio::buffer(part)), std::move(done));
    else
      asio::async_write(stream_, asio::buffer(part), std::move(done));
  }

 public:
  // Hands the connection to a WebSocket (Responder::acceptWebSocket).
  void upgrade(std::shared_ptr<StreamState> state, std::function<void(std::string)> onText);

  void answer(Response r) {
    if (phase_ != Phase::kHandling) return;  // closed meanwhile (evicted, stopped)
    if (r.status < 100 || r.status > 999) r = Response{500, "text/plain", "bad status\n", {}};
    auto& res = response_.emplace();
    res.version(version_);
    res.result(static_cast<unsigned>(r.status));
    res.set(bhttp::field::content_type, headerSafe(std::move(r.contentType)));
    for (auto& [k, v] : r.headers)
      res.insert(k, headerSafe(std::move(v)));
    res.keep_alive(keepAlive_ && !core_->stopping.load());
    if (head_) {
      res.content_length(r.body.size());  // (and no body)
    } else {
      res.body() = std::move(r.body);
      res.prepare_payload();
    }
    write(res.keep_alive());
  }

 private:
  void waitForRequest() {
    if (core_->stopping.load()) return close();
    if (buffer_.size() > 0) return readHead();  // a pipelined request is here already
    phase_ = Phase::kWaiting;
    stream_.expires_after(core_->options.idleTimeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->close();  // timed out, closed, stopped
                              self->readHead();
                            });
  }

  void readHead() {
    phase_ = Phase::kHead;
    auto& p = parser_.emplace();
    p.header_limit(core_->options.maxHeaderBytes);
    p.body_limit(core_->options.maxBodyBytes);
    stream_.expires_after(core_->options.headerTimeout);
    bhttp::async_read_header(
        stream_, buffer_, p,
        [self = shared_from_this()](error_code ec, size_t) { self->onHead(ec); });
  }

  void onHead(error_code ec) {
    if (ec) return refuseOrClose(ec);
    auto& req = parser_->get();
    version_ = req.version();
    if (!parser_->is_done()) {
      if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
        phase_ = Phase::kWriting;
        continue_.version(version_);
        continue_.result(bhttp::status::continue_);
        stream_.expires_after(core_->options.writeTimeout);
        bhttp::async_write(stream_, continue_, [self = shared_from_this()](error_code e, size_t) {
          if (e) return self->close();
          self->readBody();
        });
        return;
      }
      // A small body usually came in with the head: parse it here rather than through
      // another asynchronous read (a trip through the scheduler, often to the other thread).
      if (!parseBuffered(ec)) return ec ? refuseOrClose(ec) : readBody();
    }
    handle();
  }

  // Feeds what the buffer holds to the parser. True when the request is complete.
  bool parseBuffered(error_code& ec) {
    while (!parser_->is_done() && buffer_.size() > 0) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return false;
      if (used == 0) break;
    }
    return parser_->is_done();
  }

  void readBody() {
    phase_ = Phase::kBody;
    stream_.expires_after(core_->options.bodyTimeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->refuseOrClose(ec);
                        self->handle();
                      });
  }

  // A bad or oversized request is answered (then the connection closed); a connection that
  // failed, timed out or was closed is closed.
  void refuseOrClose(error_code ec) {
    if (ec == bhttp::error::body_limit) return refuse(413, "request body too large\n");
    if (ec == bhttp::error::header_limit) return refuse(431, "request header too large\n");
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
      return refuse(400, "malformed request\n");
    close();
  }

  void refuse(int status, const char* body) {
    phase_ = Phase::kHandling;
    keepAlive_ = false;
    head_ = false;
    answer(Response{status, "text/plain; charset=utf-8", body, {}});
  }

  void handle() {
    auto msg = parser_->release();
    parser_.reset();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.headers.reserve(8);
    for (const auto& f : msg)
      req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.webSocketUpgrade = websocket::is_upgrade(msg);
    if (!peer_) {  // (once per connection: a getpeername per request showed in strace)
      error_code ec;
      auto remote = stream_.socket().remote_endpoint(ec);
      peer_ = ec ? std::string() : remote.address().to_string();
    }
    req.peer = *peer_;
    if (req.webSocketUpgrade) {
      upgradeRequest_.emplace(msg);  // (the handshake needs the request as Beast parsed it)
    }
    req.body = std::move(msg.body());
    keepAlive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    phase_ = Phase::kHandling;
    stream_.expires_never();  // handlers may take their time (the answer has a write timeout)
    Responder responder(std::make_shared<Responder::Exchange>(shared_from_this()));
    try {
      core_->handler(std::move(req), responder);
    } catch (const std::exception& e) {
      log::error("http handler failed", {{"error", e.what()}});
      responder.respond(Response{500, "text/plain; charset=utf-8", "internal error\n", {}});
    } catch (...) {
      log::error("http handler failed", {{"error", "unknown exception"}});
      responder.respond(Response{500, "text/plain; charset=utf-8", "internal error\n", {}});
    }
  }

  void write(bool keep) {
    phase_ = Phase::kWriting;
    stream_.expires_after(core_->options.writeTimeout);
    bhttp::async_write(stream_, *response_,
                       [self = shared_from_this(), keep](error_code ec, size_t) {
                         self->response_.reset();
                         if (ec) return self->close();
                         if (!keep) return self->linger();
                         self->waitForRequest();
                       });
  }

  void linger() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosing;
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    buffer_.clear();
    stream_.expires_after(kLingerTime);
    stream_.async_read_some(buffer_.prepare(std::min<size_t>(buffer_.max_size(), 16384)),
                            [self = shared_from_this()](error_code e, size_t n) {
                              self->lingered_ += n;
                              self->buffer_.clear();
                              if (e || self->lingered_ >= kLingerBytes) return self->close();
                              self->linger();
                            });
  }

  friend class WsSession;
  std::shared_ptr<Core> core_;  // first member: the io_context outlives the stream
  beast::tcp_stream stream_;
  std::optional<bhttp::request<bhttp::string_body>> upgradeRequest_;
  // A streamed answer (executor only).
  std::shared_ptr<StreamState> streamState_;
  std::optional<bhttp::response<bhttp::empty_body>> streamHead_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> streamSerializer_;
  OutQueue out_;
  bool writing_ = false;
  bool finishing_ = false;
  bool chunked_ = true;
  std::array<char, 512> drain_{};
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  bhttp::response<bhttp::empty_body> continue_;
  std::atomic<Phase> phase_{Phase::kWaiting};
  unsigned version_ = 11;
  bool keepAlive_ = false;
  bool head_ = false;
  size_t lingered_ = 0;
  std::optional<std::string> peer_;  // the client's address, once read
  bool listed_ = false;
  std::list<Core::Entry>::iterator entry_;
};

// A connection after its WebSocket upgrade. Beast does the handshake, framing, pings (the
// suggested server timeouts: idle connections are pinged, dead ones closed) and close.
class WsSession : public Link, public Streamer, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(std::shared_ptr<Core> core, beast::tcp_stream&& stream)
      : core_(std::move(core)), ws_(std::move(stream)) {}
  ~WsSession() override {
    if (!listed_) return;
    std::lock_guard lock(core_->mu);
    core_->sessions.erase(entry_);
  }
  asio::any_io_executor linkExecutor() override { return ws_.get_executor(); }
  asio::any_io_executor streamExecutor() override { return ws_.get_executor(); }
  bool evictable() const override { return false; }
  void adopt(std::list<Core::Entry>::iterator entry) {
    entry_ = entry;
    listed_ = true;
  }

  void start(const bhttp::request<bhttp::string_body>& request, std::shared_ptr<StreamState> state,
             std::function<void(std::string)> onText) {
    state_ = std::move(state);
    onText_ = std::move(onText);
    beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts from here
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(core_->options.maxWebSocketMessageBytes);
    ws_.async_accept(request, [self = shared_from_this()](error_code ec) {
      if (ec) return self->close();
      self->accepted_ = true;
      self->read();
      self->pump();
    });
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
    if (auto st = std::exchange(state_, nullptr)) st->ended();
  }

  void enqueue(std::string part) override {
    if (closed_ || finishing_) return;
    if (!out_.push(std::move(part), core_->options.maxStreamQueueBytes, "WebSocket"))
      return close();
    pump();
  }

  void finish() override {
    if (closed_) return;
    finishing_ = true;
    pump();
  }

 private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->close();  // closed by the client, too large, timed out
      std::string text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      if (self->onText_) {
        try {
          self->onText_(std::move(text));
        } catch (const std::exception& e) {
          log::error("websocket message handler failed", {{"error", e.what()}});
        }
      }
      self->read();
    });
  }

  void pump() {
    if (!accepted_ || writing_ || closed_) return;
    if (out_.empty()) {
      if (!finishing_) return;
      writing_ = true;
      ws_.async_close(websocket::close_code::normal,
                      [self = shared_from_this()](error_code) { self->close(); });
      return;
    }
    const std::string& part = out_.take();
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(part), [self = shared_from_this()](error_code ec, size_t) {
      self->writing_ = false;
      self->out_.written();
      if (ec) return self->close();
      self->pump();
    });
  }

  std::shared_ptr<Core> core_;
  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<StreamState> state_;
  std::function<void(std::string)> onText_;
  beast::flat_buffer in_;
  OutQueue out_;
  bool accepted_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  bool closed_ = false;
  bool listed_ = false;
  std::list<Core::Entry>::iterator entry_;
};

void Session::upgrade(std::shared_ptr<StreamState> state, std::function<void(std::string)> onText) {
  if (phase_ != Phase::kHandling || !upgradeRequest_) {
    state->ended();
    if (phase_ == Phase::kHandling)
      answer(Response{400, "text/plain; charset=utf-8", "not a WebSocket upgrade request\n", {}});
    return;
  }
  phase_ = Phase::kClosed;  // this session is done; the socket lives on in the WebSocket
  auto ws = std::make_shared<WsSession>(core_, std::move(stream_));
  bool stopped = false;
  {
    std::lock_guard lock(core_->mu);
    // A stop() that listed the connections before this hand-over closed this (finished)
    // session, not the WebSocket: close that here, or it would live until its client leaves.
    stopped = core_->stopped;
    if (listed_) {
      entry_->session = ws;
      entry_->raw = ws.get();
      ws->adopt(entry_);
      listed_ = false;
    }
  }
  state->streamer = ws;
  ws->start(*upgradeRequest_, std::move(state), std::move(onText));
  upgradeRequest_.reset();
  if (stopped) ws->close();
}

namespace {

void accept(const std::shared_ptr<Core>& core);

void admit(const std::shared_ptr<Core>& core, tcp::socket socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto session = std::make_shared<Session>(core, std::move(socket));
  std::shared_ptr<Link> victim;  // (released after the lock)
  bool refused = false;
  {
    std::lock_guard lock(core->mu);
    if (core->stopped) return;
    if (core->sessions.size() >= core->options.maxConnections) {
      for (auto& e : core->sessions) {
        if (!e.raw->evictable()) continue;
        victim = e.session.lock();
        if (victim) break;
      }
      refused = !victim;
    }
    if (!refused)
      session->list(core->sessions.insert(core->sessions.end(), {session, session.get()}));
  }
  if (victim) asio::post(victim->linkExecutor(), [victim] { victim->close(); });
  if (refused) {
    session->close();
    return;
  }
  asio::post(session->executor(), [session] { session->run(); });
}

void accept(const std::shared_ptr<Core>& core) {
  // A strand per connection only when several threads could run its handlers at once.
  asio::any_io_executor executor = core->io.get_executor();
  if (core->options.threads > 1) executor = asio::make_strand(core->io);
  core->acceptor.async_accept(executor, [core](error_code ec, tcp::socket socket) {
    if (core->stopping.load() || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors or memory: wait a little instead of spinning on the error.
      if (logAcceptFailureNow())
        log::warn("http server cannot accept; retrying", {{"error", ec.message()}});
      core->retry.expires_after(std::chrono::milliseconds(100));
      core->retry.async_wait([core](error_code e) {
        if (!e) accept(core);
      });
      return;
    }
    admit(core, std::move(socket));
    accept(core);
  });
}

// Each server thread: handlers do not throw (the request handler is wrapped), but nothing
// may end a thread, not even a failed allocation.
void serve(Core* core) {
  for (;;) {
    try {
      core->io.run();
      return;
    } catch (const std::exception& e) {
      log::error("http server thread caught an exception; continuing", {{"error", e.what()}});
    } catch (...) {
      log::error("http server thread caught an exception; continuing");
    }
  }
}

void stop(Core& core) {
  std::vector<std::shared_ptr<Link>> open;  // (released after the lock)
  {
    std::lock_guard lock(core.mu);
    if (core.stopped) return;
    core.stopped = true;
    core.stopping = true;
    for (auto& e : core.sessions)
      if (auto s = e.session.lock()) open.push_back(std::move(s));
  }
  asio::post(core.acceptor.get_executor(), [&core] {
    error_code ec;
    core.acceptor.close(ec);
    core.retry.cancel();
  });
  for (auto& s : open)
    asio::post(s->linkExecutor(), [s] { s->close(); });
  open.clear();
  core.work.reset();
  // The threads end when nothing is left to do (every socket closed, the acceptor too).
  for (auto& t : core.threads)
    if (t.joinable()) t.join();
  if (core.threads.empty()) serve(&core);  // (none could be started: finish here)
}

}  // namespace
}  // namespace detail

// ---- Responder ----

struct Responder::Exchange {
  explicit Exchange(std::shared_ptr<detail::Session> s) : session(std::move(s)) {}
  ~Exchange() {
    if (answered.load()) return;
    try {
      deliver(Response{500, "text/plain; charset=utf-8", "no answer\n", {}});
    } catch (...) {  // (a destructor: the client's connection then waits for its timeout)
    }
  }
  void deliver(Response r) {
    auto& core = session->core();
    if (core.io.get_executor().running_in_this_thread()) {
      // On a server thread (the io_context runs, so this will run): answered here when the
      // connection's strand is free, instead of waking another thread for it.
      asio::dispatch(session->executor(),
                     [s = session, r = std::move(r)]() mutable { s->answer(std::move(r)); });
      return;
    }
    std::lock_guard lock(core.mu);
    if (core.stopped) return;  // nothing would run it
    asio::post(session->executor(),
               [s = session, r = std::move(r)]() mutable { s->answer(std::move(r)); });
  }
  std::shared_ptr<detail::Session> session;
  std::atomic<bool> answered{false};
};

void Responder::respond(Response response) const {
  if (!exchange_ || exchange_->answered.exchange(true)) return;
  exchange_->deliver(std::move(response));
}

namespace {
std::shared_ptr<detail::StreamState> newStreamState(const std::shared_ptr<detail::Session>& s,
                                                    std::function<void()> onClosed) {
  auto state = std::make_shared<detail::StreamState>();
  state->core = s->sharedCore();
  state->executor = s->executor();
  state->onClosed = std::move(onClosed);
  return state;
}
}  // namespace

// The answer becomes a stream: `begin(session, state)` runs on the session's executor, unless
// the server has stopped (then the stream is over at once).
template <typename Begin>
Stream Responder::startStream(std::function<void()> onClosed, bool sessionStreams,
                              Begin begin) const {
  if (!exchange_ || exchange_->answered.exchange(true)) return Stream();
  auto state = newStreamState(exchange_->session, std::move(onClosed));
  if (sessionStreams) state->streamer = exchange_->session;
  auto& core = exchange_->session->core();
  std::lock_guard lock(core.mu);
  if (core.stopped) {
    state->ended();  // (nothing will run on a server thread any more)
    return Stream(state);
  }
  asio::post(exchange_->session->executor(),
             [s = exchange_->session, state, b = std::move(begin)]() mutable { b(*s, state); });
  return Stream(state);
}

Stream Responder::stream(Response head, std::function<void()> onClosed) const {
  return startStream(std::move(onClosed), true,
                     [h = std::move(head)](detail::Session& s, auto state) mutable {
                       s.beginStream(std::move(h), std::move(state));
                     });
}

Stream Responder::acceptWebSocket(std::function<void(std::string)> onText,
                                  std::function<void()> onClosed) const {
  // (the streamer is the WebSocket, set when the session hands over, before any part)
  return startStream(std::move(onClosed), false,
                     [t = std::move(onText)](detail::Session& s, auto state) mutable {
                       s.upgrade(std::move(state), std::move(t));
                     });
}

// ---- Stream ----

namespace {
// Runs `f` on the stream's executor unless the stream or the server is over.
template <typename F>
bool post(const std::shared_ptr<detail::StreamState>& st, F f) {
  if (!st || !st->open.load()) return false;
  std::lock_guard lock(st->core->mu);
  if (st->core->stopped) return false;  // nothing would run it
  asio::post(st->executor, std::move(f));
  return true;
}
}  // namespace

bool Stream::send(std::string part) const {
  return post(state_, [st = state_, p = std::move(part)]() mutable {
    if (st->streamer) st->streamer->enqueue(std::move(p));
  });
}

void Stream::close() const {
  post(state_, [st = state_] {
    if (st->streamer) st->streamer->finish();
  });
}

bool Stream::open() const {
  return state_ && state_->open.load();
}

// ---- Request, helpers ----

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

bool Request::hasHeader(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return true;
  }
  return false;
}

Result<std::pair<std::string, int>> parseListenAddress(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return makeError(Error::Code::kInvalidArgument,
                     "listen address \"" + address + "\" must be host:port, e.g. 0.0.0.0:9091");
  std::string host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  std::string portText = address.substr(colon + 1);
  int port = -1;
  auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || p != portText.data() + portText.size() || port < 0 || port > 65535)
    return makeError(Error::Code::kInvalidArgument,
                     "listen address \"" + address + "\" has no valid port (0-65535)");
  in_addr probe{};
  if (::inet_pton(AF_INET, host.c_str(), &probe) != 1)
    return makeError(Error::Code::kInvalidArgument,
                     "listen address \"" + address + "\" needs an IPv4 address as host");
  return std::make_pair(host, port);
}

// ---- Server ----

Result<std::unique_ptr<Server>> Server::start(const std::string& host, int port, Handler handler,
                                              ServerOptions options) {
  return startAsync(
      host, port,
      [h = std::move(handler)](Request&& req, Responder responder) { responder.respond(h(req)); },
      options);
}

Result<std::unique_ptr<Server>> Server::startAsync(const std::string& host, int port,
                                                   AsyncHandler handler, ServerOptions options) {
  auto core = std::make_shared<detail::Core>(options, std::move(handler));
  error_code ec;
  auto address = asio::ip::make_address_v4(host, ec);
  if (ec) return makeError(Error::Code::kInvalidArgument, "not an IPv4 address: " + host);
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  auto& acceptor = core->acceptor;
  if (acceptor.open(endpoint.protocol(), ec) ||
      acceptor.set_option(tcp::acceptor::reuse_address(true), ec) || acceptor.bind(endpoint, ec) ||
      acceptor.listen(asio::socket_base::max_listen_connections, ec))
    return makeError(Error::Code::kUnavailable,
                     "listening on " + host + ":" + std::to_string(port) + ": " + ec.message());
  const int bound = acceptor.local_endpoint(ec).port();
  detail::accept(core);
  try {
    for (int i = 0; i < std::max(options.threads, 1); ++i)
      core->threads.emplace_back([c = core.get()] { detail::serve(c); });
  } catch (const std::system_error& e) {  // (cannot create a thread)
    detail::stop(*core);
    return makeError(Error::Code::kUnavailable, std::string("http server threads: ") + e.what());
  }
  return std::unique_ptr<Server>(new Server(std::move(core), bound));
}

Server::Server(std::shared_ptr<detail::Core> core, int port)
    : core_(std::move(core)), port_(port) {}

Server::~Server() {
  stop();
}

asio::io_context& Server::context() {
  return core_->io;
}

size_t Server::connections() const {
  std::lock_guard lock(core_->mu);
  return core_->sessions.size();
}

void Server::stop() {
  detail::stop(*core_);
}

}  // namespace osmosis::http
