#include "sidecar/dispatch/http_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace osmosis::sidecar {
namespace {

using Kind = DeliveryResult::Kind;

constexpr uint64_t kWakeKey = ~uint64_t{0};
constexpr size_t kMaxHeadBytes = 64 * 1024;

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
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

void appendNumber(std::string* out, uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out->append(digits, end);
}

}  // namespace

// ---- ResponseReader ----

ResponseReader::State ResponseReader::bad(const char* problem) {
  problem_ = problem;
  return State::kBad;
}

ResponseReader::State ResponseReader::parse(std::string* buf) {
  if (!buf->empty()) started_ = true;
  if (!headDone_) {
    size_t headEnd = buf->find("\r\n\r\n");
    if (headEnd == std::string::npos) {
      if (buf->size() > kMaxHeadBytes) return bad("response headers too large");
      return State::kNeedMore;
    }
    std::string_view head(buf->data(), headEnd);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return bad("malformed status line");
    auto [p, ec] = std::from_chars(head.data() + 9, head.data() + 12, status_);
    if (ec != std::errc() || status_ < 100 || status_ > 999) return bad("malformed status code");
    if (auto ra = headerValue(head, "Retry-After"); !ra.empty())
      retryAfter_ = parseRetryAfter(std::string(ra));
    keepAlive_ = head.substr(5, 3) == "1.1";
    std::string_view conn = headerValue(head, "Connection");
    if (conn.size() == 5 && ::strncasecmp(conn.data(), "close", 5) == 0) keepAlive_ = false;
    chunked_ = !headerValue(head, "Transfer-Encoding").empty();
    std::string_view cl = headerValue(head, "Content-Length");
    if (!chunked_) {
      if (!cl.empty()) {
        auto [q, e2] = std::from_chars(cl.data(), cl.data() + cl.size(), remaining_);
        if (e2 != std::errc()) return bad("malformed Content-Length");
      } else if (status_ != 204 && status_ != 304 && status_ >= 200) {
        untilClose_ = true;  // the body ends when the app closes the connection
        keepAlive_ = false;
      }
    }
    headDone_ = true;
    buf->erase(0, headEnd + 4);
  }
  if (untilClose_) {
    buf->clear();
    return State::kNeedMore;
  }
  if (!chunked_) {
    size_t take = std::min(remaining_, buf->size());
    buf->erase(0, take);
    remaining_ -= take;
    return remaining_ == 0 ? State::kDone : State::kNeedMore;
  }
  for (;;) {
    if (inChunkData_) {
      size_t take = std::min(remaining_, buf->size());
      buf->erase(0, take);
      remaining_ -= take;
      if (remaining_ > 0) return State::kNeedMore;
      inChunkData_ = false;
      if (lastChunk_) return State::kDone;  // (trailers are not expected from a worker app)
      continue;
    }
    size_t lineEnd = buf->find("\r\n");
    if (lineEnd == std::string::npos) {
      if (buf->size() > 1024) return bad("malformed chunk size");
      return State::kNeedMore;
    }
    size_t size = 0;
    auto [q, ec] = std::from_chars(buf->data(), buf->data() + lineEnd, size, 16);
    if (ec != std::errc()) return bad("malformed chunk size");
    buf->erase(0, lineEnd + 2);
    remaining_ = size + 2;  // the data and its CRLF
    inChunkData_ = true;
    lastChunk_ = size == 0;
  }
}

// ---- AppClient ----

struct AppClient::Slot {
  int fd = -1;
  uint32_t generation = 0;  // tells events for an old connection of this slot apart
  bool connecting = false;
  bool writeWatched = false;
  bool reused = false;  // the connection has carried an answer before
  bool busy = false;
  bool retried = false;
  std::string request;
  size_t sent = 0;
  std::string in;
  ResponseReader reader;
};

AppClient::AppClient(int port, int slots) : port_(port) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_ >= 0 && wakeFd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeKey;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeFd_, &ev);
  }
  slots_.reserve(static_cast<size_t>(slots));
  for (int i = 0; i < slots; ++i)
    slots_.push_back(std::make_unique<Slot>());
}

AppClient::~AppClient() {
  for (int i = 0; i < slots(); ++i)
    close(i);
  if (wakeFd_ >= 0) ::close(wakeFd_);
  if (epoll_ >= 0) ::close(epoll_);
}

bool AppClient::busy(int slot) const {
  return slots_[static_cast<size_t>(slot)]->busy;
}

std::string* AppClient::request(int slot) {
  return &slots_[static_cast<size_t>(slot)]->request;
}

bool AppClient::reachable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

void AppClient::wake() {
  uint64_t one = 1;
  (void)!::write(wakeFd_, &one, sizeof one);
}

void AppClient::close(int index) {
  Slot& s = *slots_[static_cast<size_t>(index)];
  if (s.fd >= 0) ::close(s.fd);  // (closing also takes it out of the epoll set)
  s.fd = -1;
  s.connecting = false;
  s.writeWatched = false;
  s.reused = false;
  s.in.clear();
}

void AppClient::watch(int index, bool writable) {
  Slot& s = *slots_[static_cast<size_t>(index)];
  if (s.writeWatched == writable) return;
  s.writeWatched = writable;
  epoll_event ev{};
  ev.events = EPOLLIN | (writable ? EPOLLOUT : 0u);
  ev.data.u64 = (uint64_t{s.generation} << 32) | static_cast<uint32_t>(index);
  ::epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &ev);
}

bool AppClient::connect(int index, std::vector<Done>* done) {
  Slot& s = *slots_[static_cast<size_t>(index)];
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s.fd < 0) {
    finish(index, failure(Kind::kTransport, std::string("socket: ") + strerror(errno)), false,
           done);
    return false;
  }
  int one = 1;
  ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr = loopback(port_);
  s.connecting = false;
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      int err = errno;
      close(index);
      finish(index,
             err == ECONNREFUSED
                 ? failure(Kind::kRefused, "connection refused")
                 : failure(Kind::kTransport, std::string("connect: ") + strerror(err)),
             false, done);
      return false;
    }
    s.connecting = true;
  }
  ++s.generation;
  s.reused = false;
  s.writeWatched = s.connecting;
  epoll_event ev{};
  ev.events = EPOLLIN | (s.connecting ? EPOLLOUT : 0u);
  ev.data.u64 = (uint64_t{s.generation} << 32) | static_cast<uint32_t>(index);
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, s.fd, &ev);
  return true;
}

void AppClient::start(int slot, std::vector<Done>* done) {
  Slot& s = *slots_[static_cast<size_t>(slot)];
  s.busy = true;
  s.retried = false;
  s.sent = 0;
  s.in.clear();
  s.reader = ResponseReader();
  if (s.fd < 0 && !connect(slot, done)) return;
  if (!s.connecting) send(slot, done);
}

void AppClient::cancel(int slot) {
  Slot& s = *slots_[static_cast<size_t>(slot)];
  if (!s.busy) return;
  s.busy = false;
  close(slot);
}

void AppClient::finish(int index, DeliveryResult result, bool keep, std::vector<Done>* done) {
  Slot& s = *slots_[static_cast<size_t>(index)];
  s.busy = false;
  if (keep) {
    s.reused = true;
    s.in.clear();
  } else {
    close(index);
  }
  done->push_back(Done{index, std::move(result)});
}

void AppClient::broken(int index, const std::string& detail, std::vector<Done>* done) {
  Slot& s = *slots_[static_cast<size_t>(index)];
  const bool retry = s.busy && s.reused && !s.reader.started() && !s.retried;
  close(index);
  if (!s.busy) return;
  if (!retry) {
    finish(index, failure(Kind::kTransport, detail), false, done);
    return;
  }
  s.retried = true;
  s.sent = 0;
  s.reader = ResponseReader();
  if (connect(index, done) && !s.connecting) send(index, done);
}

void AppClient::send(int index, std::vector<Done>* done) {
  Slot& s = *slots_[static_cast<size_t>(index)];
  while (s.sent < s.request.size()) {
    ssize_t n = ::send(s.fd, s.request.data() + s.sent, s.request.size() - s.sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      s.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch(index, true);
      return;
    }
    broken(index, std::string("send: ") + strerror(errno), done);
    return;
  }
  watch(index, false);
}

void AppClient::receive(int index, std::vector<Done>* done) {
  Slot& s = *slots_[static_cast<size_t>(index)];
  char chunk[16 * 1024];
  ssize_t n = ::recv(s.fd, chunk, sizeof chunk, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    if (!s.busy) {
      close(index);  // the app closed an idle kept-alive connection
    } else if (n == 0 && s.reader.closeEnds()) {
      finish(index, DeliveryResult{Kind::kResponse, s.reader.status(), s.reader.retryAfter(), ""},
             false, done);
    } else if (n == 0) {
      broken(index,
             s.reader.headDone() ? "connection closed inside the body"
                                 : "connection closed before the answer",
             done);
    } else {
      broken(index, std::string("recv: ") + strerror(errno), done);
    }
    return;
  }
  if (!s.busy) {  // bytes nobody asked for: the connection is out of step
    close(index);
    return;
  }
  s.in.append(chunk, static_cast<size_t>(n));
  switch (s.reader.parse(&s.in)) {
    case ResponseReader::State::kNeedMore:
      return;
    case ResponseReader::State::kBad:
      finish(index, failure(Kind::kTransport, s.reader.problem()), false, done);
      return;
    case ResponseReader::State::kDone:
      finish(index, DeliveryResult{Kind::kResponse, s.reader.status(), s.reader.retryAfter(), ""},
             s.reader.keepAlive(), done);
      return;
  }
}

void AppClient::wait(std::chrono::milliseconds timeout, std::vector<Done>* done) {
  epoll_event events[64];
  const int ms =
      timeout.count() < 0 ? -1 : static_cast<int>(std::min<int64_t>(timeout.count(), 3600000));
  int n = ::epoll_wait(epoll_, events, 64, ms);
  for (int i = 0; i < n; ++i) {
    const uint64_t key = events[i].data.u64;
    if (key == kWakeKey) {
      uint64_t count;
      (void)!::read(wakeFd_, &count, sizeof count);
      continue;
    }
    const int index = static_cast<int>(key & 0xffffffffu);
    const auto generation = static_cast<uint32_t>(key >> 32);
    Slot& s = *slots_[static_cast<size_t>(index)];
    if (s.fd < 0 || s.generation != generation) continue;  // closed since
    const uint32_t ev = events[i].events;
    if (s.connecting) {
      if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) continue;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        close(index);
        if (s.busy) {
          finish(index,
                 err == ECONNREFUSED
                     ? failure(Kind::kRefused, "connection refused")
                     : failure(Kind::kTransport, std::string("connect: ") + strerror(err)),
                 false, done);
        }
        continue;
      }
      s.connecting = false;
      if (s.busy)
        send(index, done);
      else
        watch(index, false);
      continue;
    }
    if ((ev & EPOLLOUT) != 0 && s.busy && s.sent < s.request.size()) {
      send(index, done);
      if (s.fd < 0 || s.generation != generation) continue;
    }
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) receive(index, done);
  }
}

// ---- Requests ----

void RequestBuilder::begin(std::string_view path, int port, size_t bodySize) {
  out_->clear();
  out_->append("POST ");
  out_->append(path);
  out_->append(" HTTP/1.1\r\nHost: 127.0.0.1:");
  appendNumber(out_, static_cast<uint64_t>(port));
  out_->append("\r\nContent-Length: ");
  appendNumber(out_, bodySize);
  out_->append("\r\n");
}

void RequestBuilder::header(std::string_view name, std::string_view value) {
  out_->append(name);
  out_->append(": ");
  const size_t at = out_->size();
  out_->append(value);
  for (size_t i = at; i < out_->size(); ++i) {
    char& c = (*out_)[i];
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  out_->append("\r\n");
}

void RequestBuilder::end(std::string_view body) {
  out_->append("\r\n");
  out_->append(body);
}

bool validHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 0x7f) return false;
  }
  return true;
}

}  // namespace osmosis::sidecar
