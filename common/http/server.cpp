#include "common/http/server.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <cstring>
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
    std::weak_ptr<Session> session;
    Session* raw;  // valid under `mu`: ~Session removes the entry under `mu` first
  };
  std::list<Entry> sessions;  // oldest first
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  enum class Phase { kWaiting, kHead, kBody, kHandling, kWriting, kClosing, kClosed };

  Session(std::shared_ptr<Core> core, tcp::socket socket)
      : core_(std::move(core)),
        stream_(std::move(socket)),
        buffer_(core_->options.maxHeaderBytes + 8192) {}

  ~Session() {
    if (!listed_) return;
    std::lock_guard lock(core_->mu);
    core_->sessions.erase(entry_);
  }

  Core& core() { return *core_; }
  auto executor() { return stream_.get_executor(); }
  // Closing it loses nothing: no request is being handled or answered.
  bool evictable() const {
    Phase p = phase_.load();
    return p == Phase::kWaiting || p == Phase::kHead || p == Phase::kClosing;
  }
  void list(std::list<Core::Entry>::iterator entry) {
    entry_ = entry;
    listed_ = true;
  }

  void run() { waitForRequest(); }

  void close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

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
      return readBody();
    }
    handle();
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

  std::shared_ptr<Core> core_;  // first member: the io_context outlives the stream
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  bhttp::response<bhttp::empty_body> continue_;
  std::atomic<Phase> phase_{Phase::kWaiting};
  unsigned version_ = 11;
  bool keepAlive_ = false;
  bool head_ = false;
  size_t lingered_ = 0;
  bool listed_ = false;
  std::list<Core::Entry>::iterator entry_;
};

namespace {

void accept(const std::shared_ptr<Core>& core);

void admit(const std::shared_ptr<Core>& core, tcp::socket socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto session = std::make_shared<Session>(core, std::move(socket));
  std::shared_ptr<Session> victim;  // (released after the lock)
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
  if (victim) asio::post(victim->executor(), [victim] { victim->close(); });
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
  std::vector<std::shared_ptr<Session>> open;  // (released after the lock)
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
    asio::post(s->executor(), [s] { s->close(); });
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

// ---- Request, helpers ----

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
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

size_t Server::connections() const {
  std::lock_guard lock(core_->mu);
  return core_->sessions.size();
}

void Server::stop() {
  detail::stop(*core_);
}

}  // namespace osmosis::http
