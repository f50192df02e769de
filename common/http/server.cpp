#include "common/http/server.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log/logger.hpp"

namespace osmosis::http {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;

bool sendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
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

Result<std::unique_ptr<Server>> Server::start(const std::string& host, int port, Handler handler) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(Error::Code::kInternal, std::string("socket: ") + strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return makeError(Error::Code::kInvalidArgument, "not an IPv4 address: " + host);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    std::string why = strerror(errno);
    ::close(fd);
    return makeError(Error::Code::kUnavailable,
                     "listening on " + host + ":" + std::to_string(port) + ": " + why);
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::unique_ptr<Server> server(new Server(fd, ntohs(addr.sin_port), std::move(handler)));
  if (::pipe2(server->wakeFd_, O_CLOEXEC) != 0)
    return makeError(Error::Code::kInternal, std::string("pipe: ") + strerror(errno));
  server->acceptThread_ = std::thread([s = server.get()] { s->acceptLoop(); });
  return server;
}

Server::Server(int fd, int port, Handler handler)
    : listenFd_(fd), port_(port), handler_(std::move(handler)) {}

Server::~Server() {
  stop();
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  if (wakeFd_[1] >= 0) (void)!::write(wakeFd_[1], "x", 1);
  if (acceptThread_.joinable()) acceptThread_.join();
  {
    std::lock_guard lock(mu_);
    for (auto& c : conns_)
      ::shutdown(c.fd, SHUT_RDWR);
  }
  reap(true);
  ::close(listenFd_);
  for (int& fd : wakeFd_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

void Server::reap(bool all) {
  std::list<Conn> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      auto next = std::next(it);
      if (all || it->done.load()) finished.splice(finished.end(), conns_, it);
      it = next;
    }
  }
  for (auto& c : finished) {
    if (c.thread.joinable()) c.thread.join();
    ::close(c.fd);
  }
}

void Server::acceptLoop() {
  while (!stopping_.load()) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeFd_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    reap(false);
    if (n <= 0 || (fds[1].revents & POLLIN) != 0) continue;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    auto& c = conns_.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, conn = &c] { serve(conn); });
  }
}

void Server::serve(Conn* conn) {
  const int fd = conn->fd;
  std::string buf;
  char chunk[16 * 1024];
  auto fill = [&]() {
    ssize_t n;
    do {
      n = ::recv(fd, chunk, sizeof chunk, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  };
  for (;;) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes || !fill()) {
        conn->done = true;
        return;
      }
    }
    Request req;
    std::string_view head(buf.data(), end);
    size_t lineEnd = head.find("\r\n");
    std::string_view line = head.substr(0, lineEnd);
    size_t sp1 = line.find(' ');
    size_t sp2 = line.rfind(' ');
    bool bad = sp1 == std::string_view::npos || sp2 == sp1;
    if (!bad) {
      req.method = std::string(line.substr(0, sp1));
      req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    }
    // A copy: `line` points into `buf`, which is erased below (a view would then read the body).
    const std::string version = bad ? "" : std::string(line.substr(sp2 + 1));
    size_t pos = lineEnd == std::string_view::npos ? head.size() : lineEnd + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string_view::npos) e = head.size();
      std::string_view h = head.substr(pos, e - pos);
      size_t colon = h.find(':');
      if (colon != std::string_view::npos)
        req.headers.emplace_back(std::string(h.substr(0, colon)), trim(h.substr(colon + 1)));
      pos = e + 2;
    }
    buf.erase(0, end + 4);
    size_t length = 0;
    std::string cl = req.header("Content-Length");
    if (!cl.empty()) {
      auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), length);
      bad = bad || ec != std::errc() || length > kMaxBodyBytes;
    }
    if (!req.header("Transfer-Encoding").empty()) bad = true;  // not needed here
    if (bad) {
      sendAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      conn->done = true;
      return;
    }
    while (buf.size() < length) {
      if (!fill()) {
        conn->done = true;
        return;
      }
    }
    req.body = buf.substr(0, length);
    buf.erase(0, length);

    bool keepAlive = version == "HTTP/1.1";
    std::string connHeader = req.header("Connection");
    if (::strcasecmp(connHeader.c_str(), "close") == 0) keepAlive = false;
    if (::strcasecmp(connHeader.c_str(), "keep-alive") == 0) keepAlive = true;

    Response resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      log::error("http handler failed", {{"path", req.path()}, {"error", e.what()}});
      resp = Response{500, "text/plain; charset=utf-8", "internal error\n", {}};
    }
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reasonPhrase(resp.status) +
                      "\r\nContent-Type: " + resp.contentType +
                      "\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\n";
    for (const auto& [k, v] : resp.headers)
      out += k + ": " + v + "\r\n";
    out += keepAlive ? "\r\n" : "Connection: close\r\n\r\n";
    out += resp.body;
    if (!sendAll(fd, out) || !keepAlive || stopping_.load()) {
      conn->done = true;
      return;
    }
  }
}

}  // namespace osmosis::http
