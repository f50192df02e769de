// The project's HTTP server (common/http/server, on Boost.Beast) against clients that try to
// knock it over (issue 16 item 10): idle connection floods, huge bodies for GET-only endpoints,
// slow heads, malformed requests, throwing handlers. It must keep a fixed number of threads,
// little memory, and answer /healthz throughout.

#include <arpa/inet.h>
#include <atomic>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/http/server.hpp"
#include "tests/fixtures/child_process.hpp"

namespace osmosis::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int threadCount() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/task");
  while (dirent* e = ::readdir(d))
    n += e->d_name[0] != '.' ? 1 : 0;
  ::closedir(d);
  return n;
}

long rssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int connectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends what it can of `bytes` without blocking for long (a server may refuse to read).
void sendSome(int fd, std::string_view bytes) {
  const auto deadline = Clock::now() + 2s;
  while (!bytes.empty() && Clock::now() < deadline) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) return;
    if (n > 0) bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until the peer closes or `timeout` passes.
std::string readAll(int fd, std::chrono::milliseconds timeout = 5s) {
  std::string out;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// One request on a new connection (Connection: close); the whole answer.
std::string roundTrip(int port, const std::string& request,
                      std::chrono::milliseconds timeout = 5s) {
  const int fd = connectTo(port);
  if (fd < 0) return "";
  sendSome(fd, request);
  std::string out = readAll(fd, timeout);
  ::close(fd);
  return out;
}

std::string get(int port, const std::string& path) {
  return roundTrip(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

bool startsWith(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

Response health(const Request& req) {
  if (req.path() == "/healthz") return {200, "text/plain", "ok\n", {}};
  if (req.path() == "/metrics") return {200, "text/plain", "metric 1\n", {}};
  if (req.path() == "/throw") throw std::runtime_error("handler bug");
  return {404, "text/plain", "not found\n", {}};
}

std::unique_ptr<Server> serve(ServerOptions options = ServerOptions::health(),
                              Server::Handler handler = health) {
  auto s = Server::start("127.0.0.1", 0, std::move(handler), options);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(s.value());
}

// 3,000 idle connections (the old server: a thread each, 3,015 threads, RSS 53 -> 388 MB).
// Now: no thread more, a few MB, /healthz answered all along, and every one of them closed by
// the server (evicted for newer ones beyond the cap, or timed out idle).
TEST(HttpServer, IdleConnectionFloodAddsNoThreadsLittleMemoryAndIsTimedOut) {
  ServerOptions options = ServerOptions::health();
  options.idleTimeout = 1s;
  auto server = serve(options);
  ASSERT_TRUE(startsWith(get(server->port(), "/healthz"), "HTTP/1.1 200"));
  const int threadsBefore = threadCount();
  const long rssBefore = rssKb();
  std::vector<int> fds;
  for (int i = 0; i < 3000; ++i) {
    const int fd = connectTo(server->port());
    ASSERT_GE(fd, 0) << "connection " << i << ": " << strerror(errno);
    fds.push_back(fd);
  }
  // Answered while the flood is open (a new connection takes the place of an idle one).
  const auto answer = get(server->port(), "/healthz");
  EXPECT_TRUE(startsWith(answer, "HTTP/1.1 200")) << answer;
  EXPECT_LE(server->connections(), options.maxConnections + 1);
  EXPECT_EQ(threadCount(), threadsBefore);
  const long grownKb = rssKb() - rssBefore;
  // (Under AddressSanitizer freed sessions stay in its quarantine: about 6 kB each here, of the
  // ~3,000 accepted and closed. Without it the growth is well under 1 MB.)
  EXPECT_LT(grownKb, 40 * 1024) << "RSS grew by " << grownKb << " kB";

  // Every connection ends, closed by the server.
  const auto deadline = Clock::now() + 15s;
  size_t open = fds.size();
  std::vector<bool> closed(fds.size(), false);
  while (open > 0 && Clock::now() < deadline) {
    std::vector<pollfd> polls;
    std::vector<size_t> index;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (closed[i]) continue;
      polls.push_back({fds[i], POLLIN, 0});
      index.push_back(i);
    }
    if (::poll(polls.data(), polls.size(), 200) <= 0) continue;
    for (size_t k = 0; k < polls.size(); ++k) {
      if (polls[k].revents == 0) continue;
      char c;
      if (::recv(polls[k].fd, &c, 1, 0) <= 0) {
        closed[index[k]] = true;
        --open;
      }
    }
  }
  EXPECT_EQ(open, 0u) << "connections still open after the idle timeout";
  for (int fd : fds)
    ::close(fd);
  EXPECT_TRUE(testing::eventually([&] { return server->connections() == 0; }, 5s));
  EXPECT_EQ(threadCount(), threadsBefore);
  EXPECT_TRUE(startsWith(get(server->port(), "/healthz"), "HTTP/1.1 200"));
}

// Bodies to GET-only endpoints (the old server buffered up to 64 MB each: six of them, 815 MB
// against a 64 Mi limit). Refused with 413 from the head, before a byte of body is kept.
TEST(HttpServer, LargeBodiesAreRefusedBeforeTheyAreRead) {
  auto server = serve();
  const long rssBefore = rssKb();
  const std::string chunk(1 << 20, 'x');
  std::vector<int> fds;
  for (int i = 0; i < 6; ++i) {
    const int fd = connectTo(server->port());
    ASSERT_GE(fd, 0);
    sendSome(fd, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n");
    sendSome(fd, chunk);
    fds.push_back(fd);
  }
  for (int fd : fds) {
    const std::string answer = readAll(fd);
    EXPECT_TRUE(startsWith(answer, "HTTP/1.1 413")) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    ::close(fd);
  }
  // Without a length (chunked): refused once the body passes the limit.
  const std::string chunked = roundTrip(server->port(),
                                        "POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                        "chunked\r\n\r\n100000\r\n" +
                                            chunk);
  EXPECT_TRUE(startsWith(chunked, "HTTP/1.1 413")) << chunked;
  const long grownKb = rssKb() - rssBefore;
  EXPECT_LT(grownKb, 16 * 1024) << "RSS grew by " << grownKb << " kB";
  // A small body is fine.
  const std::string small = roundTrip(server->port(),
                                      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                      "Connection: close\r\n\r\nhi");
  EXPECT_TRUE(startsWith(small, "HTTP/1.1 200")) << small;
  EXPECT_TRUE(startsWith(get(server->port(), "/healthz"), "HTTP/1.1 200"));
}

TEST(HttpServer, SlowHeadsAreTimedOut) {
  ServerOptions options = ServerOptions::health();
  options.headerTimeout = 300ms;
  auto server = serve(options);
  const int fd = connectTo(server->port());
  ASSERT_GE(fd, 0);
  const auto start = Clock::now();
  sendSome(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");  // ... and never the end of the head
  EXPECT_EQ(readAll(fd, 5s), "");
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  ::close(fd);
}

TEST(HttpServer, MalformedAndOversizedHeadsAreRefused) {
  auto server = serve();
  const std::string bad = roundTrip(server->port(), "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(startsWith(bad, "HTTP/1.1 400")) << bad;
  const std::string garbage = roundTrip(server->port(), "\x01\x02\x03 nonsense\r\n\r\n");
  EXPECT_TRUE(startsWith(garbage, "HTTP/1.1 400")) << garbage;
  const std::string huge = roundTrip(
      server->port(), "GET /healthz HTTP/1.1\r\nX: " + std::string(32 * 1024, 'a') + "\r\n\r\n");
  EXPECT_TRUE(startsWith(huge, "HTTP/1.1 431")) << huge;
  EXPECT_TRUE(startsWith(get(server->port(), "/healthz"), "HTTP/1.1 200"));
}

TEST(HttpServer, ThrowingHandlerAnswers500AndTheServerStaysUp) {
  auto server = serve();
  for (int i = 0; i < 3; ++i) {
    const std::string answer = get(server->port(), "/throw");
    EXPECT_TRUE(startsWith(answer, "HTTP/1.1 500")) << answer;
  }
  EXPECT_TRUE(startsWith(get(server->port(), "/healthz"), "HTTP/1.1 200"));
}

TEST(HttpServer, KeepAlivePipeliningHeadAndExpectContinue) {
  auto server = serve();
  const int fd = connectTo(server->port());
  ASSERT_GE(fd, 0);
  sendSome(fd,
           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
           "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string answers = readAll(fd);
  ::close(fd);
  const size_t first = answers.find("HTTP/1.1 200");
  const size_t head = answers.find("HTTP/1.1 200", first + 1);
  const size_t last = answers.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos) << answers;
  ASSERT_NE(head, std::string::npos) << answers;
  ASSERT_NE(last, std::string::npos) << answers;
  EXPECT_LT(head, last);
  // HEAD: the length of the GET's body, and no body.
  const std::string headAnswer = answers.substr(head, last - head);
  EXPECT_NE(headAnswer.find("Content-Length: 9\r\n"), std::string::npos) << headAnswer;
  EXPECT_EQ(headAnswer.substr(headAnswer.find("\r\n\r\n") + 4), "");

  const int c = connectTo(server->port());
  ASSERT_GE(c, 0);
  sendSome(c,
           "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
           "Connection: close\r\n\r\n");
  std::string got;
  const auto deadline = Clock::now() + 5s;
  while (got.find("\r\n\r\n") == std::string::npos && Clock::now() < deadline) {
    char buf[512];
    pollfd p{c, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(startsWith(got, "HTTP/1.1 100 Continue\r\n\r\n")) << got;
  sendSome(c, "hi");
  got += readAll(c);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  ::close(c);
}

// Handlers that answer later, from other threads (the test app's delays; later the gateway's
// long polls): no server thread is held, an answer after stop() is harmless, and a dropped
// Responder answers 500.
TEST(HttpServer, AnswersFromOtherThreadsAndDroppedOrLateResponders) {
  std::mutex mu;
  std::vector<Responder> held;
  ServerOptions options = ServerOptions::health();
  auto s = Server::startAsync(
      "127.0.0.1", 0,
      [&](Request&& req, Responder r) {
        if (req.path() == "/drop") return;  // every copy dropped: 500
        std::lock_guard lock(mu);
        held.push_back(std::move(r));
      },
      options);
  ASSERT_TRUE(s.ok());
  auto& server = *s.value();
  const int threadsBefore = threadCount();
  const std::string dropped = get(server.port(), "/drop");
  EXPECT_TRUE(startsWith(dropped, "HTTP/1.1 500")) << dropped;

  // Five requests waiting at once on the single server thread, answered from this one.
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) {
    fds.push_back(connectTo(server.port()));
    sendSome(fds.back(), "GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  ASSERT_TRUE(testing::eventually(
      [&] {
        std::lock_guard lock(mu);
        return held.size() == 5;
      },
      5s));
  EXPECT_EQ(threadCount(), threadsBefore);
  std::thread answering([&] {
    std::lock_guard lock(mu);
    for (auto& r : held)
      r.respond(Response{202, "text/plain", "later\n", {{"Retry-After", "1\r\nX-Injected: 1"}}});
    held.clear();
  });
  answering.join();
  for (int fd : fds) {
    const std::string answer = readAll(fd);
    EXPECT_TRUE(startsWith(answer, "HTTP/1.1 202")) << answer;
    EXPECT_EQ(answer.find("\r\nX-Injected"), std::string::npos) << answer;
    ::close(fd);
  }

  // A request still waiting when the server stops: its late answer goes nowhere.
  const int late = connectTo(server.port());
  sendSome(late, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(testing::eventually(
      [&] {
        std::lock_guard lock(mu);
        return held.size() == 1;
      },
      5s));
  server.stop();
  EXPECT_EQ(readAll(late, 2s), "");
  ::close(late);
  std::lock_guard lock(mu);
  held.front().respond(Response{});
  held.clear();
}

// Over the cap, the oldest connection waiting for a request makes room; connections busy in a
// handler are never closed for a new one (the new one is, when all are busy).
TEST(HttpServer, ConnectionCapEvictsIdleConnectionsNotBusyOnes) {
  std::mutex mu;
  std::vector<Responder> held;
  ServerOptions options = ServerOptions::health();
  options.maxConnections = 2;
  auto s = Server::startAsync(
      "127.0.0.1", 0,
      [&](Request&& req, Responder r) {
        if (req.path() == "/healthz") return r.respond(Response{200, "text/plain", "ok\n", {}});
        std::lock_guard lock(mu);
        held.push_back(std::move(r));
      },
      options);
  ASSERT_TRUE(s.ok());
  auto& server = *s.value();
  const int idle = connectTo(server.port());
  ASSERT_TRUE(testing::eventually([&] { return server.connections() == 1; }, 5s));
  const int busy = connectTo(server.port());
  sendSome(busy, "GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(testing::eventually(
      [&] {
        std::lock_guard lock(mu);
        return held.size() == 1;
      },
      5s));
  // A third: the idle one goes, the busy one stays.
  EXPECT_TRUE(startsWith(get(server.port(), "/healthz"), "HTTP/1.1 200"));
  EXPECT_EQ(readAll(idle, 2s), "");
  const int busy2 = connectTo(server.port());
  sendSome(busy2, "GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(testing::eventually(
      [&] {
        std::lock_guard lock(mu);
        return held.size() == 2;
      },
      5s));
  // Both busy: a new connection is closed at once.
  EXPECT_EQ(get(server.port(), "/healthz"), "");
  {
    std::lock_guard lock(mu);
    for (auto& r : held)
      r.respond(Response{});
    held.clear();
  }
  EXPECT_TRUE(startsWith(readAll(busy), "HTTP/1.1 200"));
  EXPECT_TRUE(startsWith(readAll(busy2), "HTTP/1.1 200"));
  ::close(idle);
  ::close(busy);
  ::close(busy2);
}

TEST(HttpServer, ListenAddresses) {
  EXPECT_FALSE(parseListenAddress("9091").ok());
  EXPECT_FALSE(parseListenAddress("host:1").ok());
  EXPECT_FALSE(parseListenAddress("1.2.3.4:70000").ok());
  auto a = parseListenAddress(":9091");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "0.0.0.0");
  EXPECT_EQ(a->second, 9091);
  auto taken = serve();
  auto again = Server::start("127.0.0.1", taken->port(), health);
  EXPECT_FALSE(again.ok());
}

}  // namespace
}  // namespace osmosis::http
