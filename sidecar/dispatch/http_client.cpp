#include "sidecar/dispatch/http_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

namespace osmosis::sidecar {
namespace {

using Kind = DeliveryResult::Kind;

int connectTo(int port, int* err) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // Loopback: connect completes or fails at once.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *err = errno;
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

DeliveryResult failure(Kind kind, std::string detail) {
  DeliveryResult r;
  r.kind = kind;
  r.detail = std::move(detail);
  return r;
}

std::string_view headerValue(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end == std::string_view::npos ? end : end - start);
    size_t colon = line.find(':');
    if (colon == name.size() && ::strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
      return v;
    }
    pos = end;
  }
  return {};
}

}  // namespace

std::string sanitizeHeaderValue(std::string_view value) {
  std::string out(value);
  for (char& c : out)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  return out;
}

bool validHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 0x7f) return false;
  }
  return true;
}

HttpClient::~HttpClient() {
  close();
}

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reused_ = false;
  buf_.clear();
}

bool HttpClient::reachable(int port) {
  int err = 0;
  int fd = connectTo(port, &err);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

DeliveryResult HttpClient::post(const std::string& path, const HeaderList& headers,
                                std::string_view body, Clock::time_point deadline,
                                std::chrono::milliseconds tickEvery, const Tick& tick) {
  std::string req;
  req.reserve(256 + body.size());
  req += "POST ";
  req += path;
  req += " HTTP/1.1\r\nHost: 127.0.0.1:";
  req += std::to_string(port_);
  req += "\r\nContent-Length: ";
  req += std::to_string(body.size());
  req += "\r\n";
  for (const auto& [k, v] : headers) {
    req += k;
    req += ": ";
    req += v;
    req += "\r\n";
  }
  req += "\r\n";
  req += body;
  bool retry = false;
  DeliveryResult r = attempt(req, deadline, tickEvery, tick, &retry);
  // A kept-alive connection the app closed while idle: try once on a fresh one.
  if (retry) r = attempt(req, deadline, tickEvery, tick, &retry);
  return r;
}

HttpClient::Io HttpClient::readMore(Clock::time_point deadline, std::chrono::milliseconds tickEvery,
                                    const Tick& tick) {
  char chunk[16 * 1024];
  for (;;) {
    auto now = Clock::now();
    if (now >= deadline) return Io::kTimeout;
    auto wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                             std::chrono::milliseconds(1),
                         tickEvery);
    pollfd pfd{fd_, POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(wait.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Io::kError;
    if (n == 0) {
      if (tick && !tick()) return Io::kAborted;
      continue;
    }
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) return Io::kClosed;
    if (got < 0) return Io::kError;
    buf_.append(chunk, static_cast<size_t>(got));
    return Io::kOk;
  }
}

DeliveryResult HttpClient::attempt(const std::string& request, Clock::time_point deadline,
                                   std::chrono::milliseconds tickEvery, const Tick& tick,
                                   bool* retry) {
  *retry = false;
  if (fd_ < 0) {
    int err = 0;
    fd_ = connectTo(port_, &err);
    if (fd_ < 0) {
      if (err == ECONNREFUSED) return failure(Kind::kRefused, "connection refused");
      return failure(Kind::kTransport, std::string("connect: ") + strerror(err));
    }
    reused_ = false;
  }
  const bool wasReused = reused_;
  buf_.clear();
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd_, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = strerror(errno);
      close();
      *retry = wasReused;
      return failure(Kind::kTransport, "send: " + why);
    }
    off += static_cast<size_t>(n);
  }
  auto fail = [&](Io io, const char* what) {
    bool nothingRead = buf_.empty();
    close();
    if (io == Io::kTimeout) return failure(Kind::kTimeout, "no answer in time");
    if (io == Io::kAborted) return failure(Kind::kAborted, "gave up waiting for the app");
    *retry = wasReused && nothingRead && io == Io::kClosed;
    return failure(Kind::kTransport, what);
  };
  // Status line and headers.
  size_t headEnd;
  while ((headEnd = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (buf_.size() > 64 * 1024) return fail(Io::kError, "response headers too large");
    Io io = readMore(deadline, tickEvery, tick);
    if (io != Io::kOk) return fail(io, "connection closed before the answer");
  }
  std::string_view head(buf_.data(), headEnd);
  DeliveryResult result;
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/")
    return fail(Io::kError, "malformed status line");
  int status = 0;
  auto [p, ec] = std::from_chars(head.data() + 9, head.data() + 12, status);
  if (ec != std::errc() || status < 100 || status > 999)
    return fail(Io::kError, "malformed status code");
  result.status = status;
  if (auto ra = headerValue(head, "Retry-After"); !ra.empty())
    result.retryAfter = parseRetryAfter(std::string(ra));
  bool keepAlive = head.substr(5, 3) == "1.1";
  std::string_view conn = headerValue(head, "Connection");
  if (conn.size() == 5 && ::strncasecmp(conn.data(), "close", 5) == 0) keepAlive = false;
  const bool chunked = !headerValue(head, "Transfer-Encoding").empty();
  std::string_view cl = headerValue(head, "Content-Length");
  size_t bodyStart = headEnd + 4;

  if (chunked) {
    // Skip chunks until the zero-size one and the final CRLF.
    size_t pos = bodyStart;
    for (;;) {
      size_t lineEnd;
      while ((lineEnd = buf_.find("\r\n", pos)) == std::string::npos) {
        Io io = readMore(deadline, tickEvery, tick);
        if (io != Io::kOk) return fail(io, "connection closed inside a chunked body");
      }
      size_t size = 0;
      auto [q, e2] = std::from_chars(buf_.data() + pos, buf_.data() + lineEnd, size, 16);
      if (e2 != std::errc()) return fail(Io::kError, "malformed chunk size");
      size_t need = lineEnd + 2 + size + 2;
      while (buf_.size() < need) {
        Io io = readMore(deadline, tickEvery, tick);
        if (io != Io::kOk) return fail(io, "connection closed inside a chunked body");
      }
      pos = need;
      if (size == 0) break;  // (trailers are not expected from a worker app)
    }
  } else if (!cl.empty()) {
    size_t length = 0;
    auto [q, e2] = std::from_chars(cl.data(), cl.data() + cl.size(), length);
    if (e2 != std::errc()) return fail(Io::kError, "malformed Content-Length");
    while (buf_.size() < bodyStart + length) {
      Io io = readMore(deadline, tickEvery, tick);
      if (io != Io::kOk) return fail(io, "connection closed inside the body");
    }
  } else if (status != 204 && status != 304 && status >= 200) {
    // Body until the app closes the connection.
    for (;;) {
      Io io = readMore(deadline, tickEvery, tick);
      if (io == Io::kClosed) break;
      if (io != Io::kOk) return fail(io, "body not finished");
    }
    keepAlive = false;
  }
  if (keepAlive) {
    reused_ = true;
    buf_.clear();
  } else {
    close();
  }
  return result;
}

}  // namespace osmosis::sidecar
