#include "sidecar/dispatch/http_client.hpp"

#include <arpa/inet.h>
#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/span_body.hpp>
#include <cerrno>
#include <memory_resource>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log/logger.hpp"
#include "sidecar/dispatch/response_reader.hpp"

namespace osmosis::sidecar {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Kind = DeliveryResult::Kind;
using Body = bhttp::span_body<const char>;
// A request's fields live in an arena of the slot, emptied at every begin(): building a
// request allocates nothing once the arena is warm (a heap allocation per field cost about as
// much as the rest of the request).
using Fields = bhttp::basic_fields<std::pmr::polymorphic_allocator<char>>;

struct AppRequest {
  AppRequest()
      : message(std::piecewise_construct, std::make_tuple(),
                std::make_tuple(std::pmr::polymorphic_allocator<char>(&arena))) {}
  std::array<std::byte, 2048> storage;
  std::pmr::monotonic_buffer_resource arena{storage.data(), storage.size()};
  bhttp::request<Body, Fields> message;
  size_t declared = 0;            // the Content-Length begin() set
  std::optional<size_t> capture;  // RequestBuilder::capture
  // The head as Beast writes it (its fields writer), in one piece (reused): written with the body
  // in one gather write of two buffers, not one per header field.
  std::string head;
};

namespace {

constexpr size_t kReadSize = 16 * 1024;
// A kept-alive connection idle for longer is looked at (a peek: one syscall, nothing read)
// before it is reused. The app may have closed it since the last turn of the loop (its
// keep-alive timeout, a restart), and a request sent into that close could not be retried (see
// the header), while a close seen before sending costs nothing. Under load connections are
// reused sooner than this, and the idle read sees the closes of long idle ones.
constexpr auto kCheckIdleAfter = std::chrono::milliseconds(1);

DeliveryResult failure(Kind kind, std::string detail) {
  DeliveryResult r;
  r.kind = kind;
  r.detail = std::move(detail);
  return r;
}

// (Beast 1.74 takes boost::string_view.)
beast::string_view bsv(std::string_view v) {
  return {v.data(), v.size()};
}

std::string_view bytes(const beast::flat_buffer& b) {
  auto d = b.data();
  return {static_cast<const char*>(d.data()), d.size()};
}

}  // namespace

// One TCP connection to the app. Its handlers hold it, so a closed one lives until they ran.
struct AppConn {
  explicit AppConn(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  beast::flat_buffer in;
  bool reading = false;  // an async_read_some is pending
  AppClient::SteadyClock::time_point idleSince;
};

struct AppSlot {
  AppRequest request;
  std::shared_ptr<AppConn> conn;
  bool busy = false;
  // The request in flight:
  bool written = false;  // the write ended (well, or with writeError)
  bool writeFailed = false;
  std::string writeError;
  bool answered = false;    // the final answer is read: `answer`
  bool armPending = false;  // in toArm
  bool keep = false;        // nothing seen so far stops the connection carrying another request
  DeliveryResult answer;
  ResponseReader reader;
};

struct AppClient::Impl {
  Impl(int port, int count)
      : endpoint(asio::ip::address_v4::loopback(), static_cast<uint16_t>(port)) {
    slots.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i)
      slots.push_back(std::make_unique<AppSlot>());
  }
  ~Impl() {
    for (auto& s : slots)
      close(*s);
  }

  AppSlot& slot(int i) { return *slots[static_cast<size_t>(i)]; }

  void close(AppSlot& s) {
    if (!s.conn) return;
    error_code ec;
    s.conn->socket.close(ec);  // (its handlers still run, with operation_aborted, and see it gone)
    s.conn.reset();
  }

  void complete(int i, DeliveryResult result, std::vector<Done>* out) {
    slot(i).busy = false;
    out->push_back(Done{i, std::move(result)});
  }

  void start(int i, std::vector<Done>* out) {
    AppSlot& s = slot(i);
    s.busy = true;
    s.written = false;
    s.writeFailed = false;
    s.writeError.clear();
    s.answered = false;
    s.keep = true;
    s.reader.reset(s.request.capture);
    if (s.conn && !reusable(*s.conn)) close(s);
    if (s.conn) {
      send(i);
      return arm(i);  // (usually read already: the idle watch)
    }
    auto c = std::make_shared<AppConn>(io);
    error_code ec;
    if (c->socket.open(tcp::v4(), ec) || c->socket.non_blocking(true, ec))
      return complete(i, failure(Kind::kTransport, "socket: " + ec.message()), out);
    c->socket.set_option(tcp::no_delay(true), ec);
    s.conn = c;
    c->socket.async_connect(endpoint, [this, i, c](error_code e) {
      AppSlot& now = slot(i);
      if (now.conn != c) return;  // cancelled
      if (e) {
        close(now);
        complete(i,
                 e == asio::error::connection_refused
                     ? failure(Kind::kRefused, "connection refused")
                     : failure(Kind::kTransport, "connect: " + e.message()),
                 done);
        return;
      }
      send(i);
      arm(i);
    });
  }

  // A kept-alive connection, idle since its last answer, can carry the next request.
  static bool reusable(AppConn& c) {
    if (c.in.size() > 0) return false;
    if (SteadyClock::now() - c.idleSince < kCheckIdleAfter) return true;
    char byte;
    const ssize_t n = ::recv(c.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);  // (0: closed; > 0: stray bytes)
  }

  // Writes the request: at once when the socket takes it all (the usual case), the rest when
  // it can.
  void send(int i) {
    AppSlot& s = slot(i);
    const auto& body = s.request.message.body();
    std::array<asio::const_buffer, 2> request{asio::buffer(s.request.head),
                                              asio::buffer(body.data(), body.size())};
    error_code e;
    const size_t n = s.conn->socket.write_some(request, e);
    if (e && e != asio::error::would_block) return wrote(s, e);
    if (n == s.request.head.size() + body.size()) return wrote(s, e);
    const size_t inHead = std::min(n, s.request.head.size());
    request[0] += inHead;
    request[1] += n - inHead;
    auto c = s.conn;
    asio::async_write(c->socket, request, [this, i, c](error_code e2, size_t) {
      AppSlot& now = slot(i);
      if (now.conn != c || !now.busy) return;
      wrote(now, e2);
      settle(i);
    });
  }

  void wrote(AppSlot& s, error_code e) {
    s.written = true;
    if (e) {
      // Maybe the app answered and closed (413 at once): the read side decides.
      s.writeFailed = true;
      s.writeError = e.message();
      s.keep = false;
    }
  }

  // Reads: one async_read_some per connection at a time, armed late, when the next wait()
  // begins (arm() only notes it). Asio tries a read at once when one is armed: by then the
  // answer to a request sent in this turn has often arrived and is taken without a trip
  // through epoll; otherwise, and on an idle connection, the read stays pending and sees the
  // answer, or a close or bytes nobody asked for while idle.
  void arm(int i) {
    slot(i).armPending = true;
    toArm.push_back(i);
  }

  void armAll() {
    for (int i : toArm) {
      AppSlot& s = slot(i);
      if (!s.armPending) continue;
      s.armPending = false;
      if (!s.conn || s.conn->reading) continue;
      auto c = s.conn;
      c->reading = true;
      c->socket.async_read_some(c->in.prepare(kReadSize), [this, i, c](error_code e, size_t n) {
        c->reading = false;
        received(i, c, e, n);
      });
    }
    toArm.clear();
  }

  void received(int i, const std::shared_ptr<AppConn>& c, error_code e, size_t n) {
    AppSlot& s = slot(i);
    if (s.conn != c) return;  // closed since
    c->in.commit(n);
    if (!s.busy) {
      // Idle: the app closed the connection, or sent bytes nobody asked for.
      close(s);
      return;
    }
    if (s.answered) {
      // The answer is in, the request still being written: whatever comes now means the
      // connection cannot carry another request (nothing more is read).
      s.keep = false;
      return;
    }
    if (n > 0) {
      size_t used = 0;
      const auto state = s.reader.parse(bytes(c->in), &used);
      c->in.consume(used);
      if (state == ResponseReader::State::kBad) {
        close(s);
        return complete(i, failure(Kind::kTransport, s.reader.problem()), done);
      }
      if (state == ResponseReader::State::kDone) {
        answered(s);
        // Bytes after the answer: the app is out of step with us.
        s.keep = s.keep && s.reader.keepAlive() && c->in.size() == 0;
        if (s.keep && n == kReadSize) {
          // The read filled the buffer: look for more before trusting the connection.
          error_code p;
          char byte;
          c->socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, p);
          s.keep = p == asio::error::would_block;
        }
        if (s.keep) arm(i);  // (watches the idle connection)
        return settle(i);
      }
    }
    if (e) return closed(i, e);
    arm(i);  // the rest of the answer
  }

  void closed(int i, error_code e) {
    AppSlot& s = slot(i);
    if (e == asio::error::eof && s.reader.closed() == ResponseReader::State::kDone) {
      answered(s);
      s.keep = false;
      return settle(i);
    }
    std::string detail = e == asio::error::eof ? s.reader.problem() : "recv: " + e.message();
    if (s.writeFailed) detail += " (send: " + s.writeError + ")";
    close(s);
    complete(i, failure(Kind::kTransport, detail), done);
  }

  void answered(AppSlot& s) {
    s.answered = true;
    s.answer = DeliveryResult{};
    s.answer.kind = Kind::kResponse;
    s.answer.status = s.reader.status();
    s.answer.retryAfter = s.reader.retryAfter();
    if (s.reader.captured()) {
      s.answer.captured = true;
      s.answer.headers = s.reader.takeHeaders();
      s.answer.body = s.reader.takeBody();
      s.answer.bodyBytes = s.reader.bodyBytes();
      s.answer.bodyKept = s.reader.bodyKept();
    }
  }

  // Both halves are over: the request is settled.
  void settle(int i) {
    AppSlot& s = slot(i);
    if (!s.answered || !s.written) return;
    DeliveryResult r = std::move(s.answer);
    if (s.writeFailed && r.status >= 200 && r.status < 300) {
      // Success before the app had the whole message, and then it could not be sent: not an
      // answer to trust.
      r = failure(Kind::kTransport, "the app answered " + std::to_string(r.status) +
                                        " before reading the whole request, which could then "
                                        "not be sent: " +
                                        s.writeError);
    }
    if (s.keep && !s.writeFailed) {
      s.conn->idleSince = SteadyClock::now();
    } else {
      close(s);
    }
    complete(i, std::move(r), done);
  }

  // First member: destroyed last, after every socket. Only this thread starts operations;
  // other threads only post (wake): the reactor needs no locks, the scheduler keeps its own.
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::endpoint endpoint;
  std::vector<std::unique_ptr<AppSlot>> slots;
  std::vector<int> toArm;             // slots whose connection wants a read (armAll)
  std::vector<Done>* done = nullptr;  // during wait()
};

AppClient::AppClient(int port, int slots) : impl_(std::make_unique<Impl>(port, slots)) {}

AppClient::~AppClient() = default;

int AppClient::slots() const {
  return static_cast<int>(impl_->slots.size());
}

bool AppClient::busy(int slot) const {
  return impl_->slot(slot).busy;
}

AppRequest* AppClient::request(int slot) {
  return &impl_->slot(slot).request;
}

void AppClient::start(int slot, std::vector<Done>* done) {
  impl_->done = done;
  impl_->start(slot, done);
  impl_->done = nullptr;
}

void AppClient::cancel(int slot) {
  AppSlot& s = impl_->slot(slot);
  if (!s.busy) return;
  s.busy = false;
  impl_->close(s);
}

void AppClient::wait(std::chrono::milliseconds timeout, std::vector<Done>* done) {
  impl_->done = done;
  try {
    impl_->armAll();
    auto& io = impl_->io;
    if (timeout.count() == 0) {
      io.poll();
    } else if ((timeout.count() < 0 ? io.run_one() : io.run_one_for(timeout)) > 0) {
      io.poll();  // everything else that is ready, in the same turn
    }
  } catch (const std::exception& e) {
    // (Only allocation can fail here; the request it hit runs into its message timeout.)
    log::error("app client failed", {{"error", e.what()}});
  }
  impl_->done = nullptr;
}

void AppClient::wake() {
  asio::post(impl_->io, [] {});
}

bool AppClient::reachable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// ---- Requests ----

void RequestBuilder::begin(std::string_view path, int port, size_t bodySize) {
  auto& m = out_->message;
  m.base().clear();
  out_->arena.release();  // (the target is set again below, before anything reads it)
  m.method(bhttp::verb::post);
  m.target(bsv(path));
  m.version(11);
  char host[32];
  const int n = std::snprintf(host, sizeof host, "127.0.0.1:%d", port);
  m.set(bhttp::field::host, beast::string_view(host, static_cast<size_t>(n)));
  m.content_length(bodySize);
  out_->declared = bodySize;
  out_->capture.reset();
}

void RequestBuilder::capture(size_t maxBodyBytes) {
  out_->capture = maxBodyBytes;
}

void RequestBuilder::header(std::string_view name, std::string_view value) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos) {
    out_->message.insert(bsv(name), bsv(value));
    return;
  }
  std::string safe(value);
  for (char& c : safe)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  out_->message.insert(bsv(name), safe);
}

void RequestBuilder::end(std::string_view body) {
  auto& m = out_->message;
  m.body() = Body::value_type(body.data(), body.size());
  if (body.size() != out_->declared) m.content_length(body.size());
  // The head as Beast's serializer writes it (its fields writer), copied into one piece.
  const Fields::writer head(m.base(), m.version(), m.method());
  const auto buffers = head.get();
  out_->head.resize(asio::buffer_size(buffers));
  asio::buffer_copy(asio::buffer(out_->head), buffers);
}

std::string serialize(const AppRequest& request) {
  const auto& body = request.message.body();
  return request.head + std::string(body.data(), body.size());
}

bool validHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 0x7f) return false;
  }
  return true;
}

}  // namespace osmosis::sidecar
