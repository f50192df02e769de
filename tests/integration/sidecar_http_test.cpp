// The sidecar's HTTP client (AppClient: keep-alive connections driven through epoll) against
// the project's small HTTP server, on loopback.

#include <arpa/inet.h>
#include <atomic>
#include <netinet/in.h>
#include <optional>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/http/server.hpp"
#include "sidecar/dispatch/http_client.hpp"
#include "tests/fixtures/child_process.hpp"

namespace osmosis::sidecar {
namespace {

using namespace std::chrono_literals;
using Kind = DeliveryResult::Kind;
using Clock = AppClient::Clock;

std::unique_ptr<http::Server> serve(http::Server::Handler h, int threads = 1) {
  http::ServerOptions options;
  options.threads = threads;
  auto s = http::Server::start("127.0.0.1", 0, std::move(h), options);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(s.value());
}

// Builds a POST of `body` on `slot` (with one Osmosis-Message-Id header) and starts it.
void begin(AppClient& client, int slot, int port, std::string_view body,
           std::vector<AppClient::Done>* done, std::string_view id = "42") {
  RequestBuilder req(client.request(slot));
  req.begin("/work", port, body.size());
  req.header("Osmosis-Message-Id", id);
  req.end(body);
  client.start(slot, done);
}

// Waits until `n` requests finished or `timeout` passed (wait() may return with fewer).
std::vector<AppClient::Done> finish(AppClient& client, std::vector<AppClient::Done> done,
                                    size_t n = 1, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (done.size() < n) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    client.wait(left, &done);
  }
  return done;
}

std::optional<DeliveryResult> post(AppClient& client, int port, std::string_view body,
                                   int slot = 0) {
  std::vector<AppClient::Done> done;
  begin(client, slot, port, body, &done);
  done = finish(client, std::move(done));
  if (done.empty()) return std::nullopt;
  EXPECT_EQ(done.front().slot, slot);
  return done.front().result;
}

TEST(SidecarHttp, PostsBodyAndHeadersOverOneKeptAliveConnection) {
  std::atomic<int> requests{0};
  std::string seenBody, seenHeader;
  auto server = serve([&](const http::Request& r) {
    ++requests;
    seenBody = r.body;
    seenHeader = r.header("osmosis-message-id");
    return http::Response{201, "text/plain", "created", {}};
  });
  AppClient client(server->port(), 1);
  for (int i = 0; i < 3; ++i) {
    auto r = post(client, server->port(), "payload");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->kind, Kind::kResponse) << r->detail;
    EXPECT_EQ(r->status, 201);
    EXPECT_FALSE(client.busy(0));
  }
  EXPECT_EQ(requests.load(), 3);
  EXPECT_EQ(seenBody, "payload");
  EXPECT_EQ(seenHeader, "42");
}

// Regression: the server read the request's HTTP version through a view into its buffer after
// erasing the head, so a body longer than a few bytes turned every answer into
// "Connection: close" (one TCP connection, and one server thread, per message).
TEST(SidecarHttp, ServerKeepsTheConnectionAliveAfterALargeBody) {
  std::atomic<int> requests{0};
  auto server = serve([&](const http::Request& r) {
    ++requests;
    EXPECT_EQ(r.body.size(), 300u);
    return http::Response{200, "text/plain", "", {}};
  });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(server->port()));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request =
      "POST /work HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n" + std::string(300, 'x');
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string answer;
    char chunk[1024];
    while (answer.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      ASSERT_GT(n, 0) << "connection closed after " << i << " answers";
      answer.append(chunk, static_cast<size_t>(n));
    }
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
    EXPECT_EQ(answer.find("Connection: close"), std::string::npos) << answer;
  }
  ::close(fd);
  EXPECT_EQ(requests.load(), 3);
}

TEST(SidecarHttp, RequestsOnSeveralConnectionsRunAtOnce) {
  std::atomic<int> inside{0}, most{0};
  auto server = serve(
      [&](const http::Request& r) {
        int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(200ms);
        --inside;
        return http::Response{200, "text/plain", r.header("osmosis-message-id"), {}};
      },
      4);
  AppClient client(server->port(), 4);
  std::vector<AppClient::Done> done;
  const auto start = Clock::now();
  for (int slot = 0; slot < 4; ++slot)
    begin(client, slot, server->port(), "x", &done, std::to_string(slot));
  done = finish(client, std::move(done), 4);
  ASSERT_EQ(done.size(), 4u);
  for (auto& d : done)
    EXPECT_EQ(d.result.status, 200) << d.result.detail;
  EXPECT_EQ(most.load(), 4);
  EXPECT_LT(Clock::now() - start, 700ms);  // not one after another (4 x 200 ms)
}

TEST(SidecarHttp, RefusedWhenNothingListens) {
  const int port = testing::freePort();
  AppClient client(port, 1);
  auto r = post(client, port, "x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::kRefused);
  EXPECT_FALSE(client.busy(0));
  EXPECT_FALSE(AppClient::reachable(port));
}

TEST(SidecarHttp, WaitEndsAtItsTimeoutAndCancelDropsTheRequest) {
  std::atomic<int> requests{0};
  auto server = serve([&](const http::Request&) {
    if (++requests == 1) std::this_thread::sleep_for(800ms);
    return http::Response{};
  });
  AppClient client(server->port(), 1);
  std::vector<AppClient::Done> done;
  begin(client, 0, server->port(), "x", &done);
  const auto start = Clock::now();
  client.wait(200ms, &done);  // (may return early, on the connect; never with an answer)
  done = finish(client, std::move(done), 1, 200ms);
  EXPECT_TRUE(done.empty());
  EXPECT_GE(Clock::now() - start, 150ms);
  EXPECT_TRUE(client.busy(0));
  client.cancel(0);  // (the connection is closed: the late answer cannot land anywhere)
  EXPECT_FALSE(client.busy(0));
  done = finish(client, std::move(done), 1, 1000ms);
  EXPECT_TRUE(done.empty());
  // The slot works again, on a new connection.
  auto r = post(client, server->port(), "y");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->detail;
}

TEST(SidecarHttp, WakeEndsAWaitFromAnotherThread) {
  AppClient client(testing::freePort(), 1);
  std::thread waker([&] {
    std::this_thread::sleep_for(100ms);
    client.wake();
  });
  std::vector<AppClient::Done> done;
  const auto start = Clock::now();
  client.wait(std::chrono::milliseconds(-1), &done);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_TRUE(done.empty());
  waker.join();
}

TEST(SidecarHttp, RetryAfterIsRead) {
  auto server = serve([](const http::Request&) {
    return http::Response{429, "text/plain", "slow down", {{"Retry-After", "3"}}};
  });
  AppClient client(server->port(), 1);
  auto r = post(client, server->port(), "");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 429);
  ASSERT_TRUE(r->retryAfter.has_value());
  EXPECT_EQ(*r->retryAfter, 3s);
}

TEST(SidecarHttp, ReconnectsAfterTheServerDropsAnIdleConnection) {
  auto server = serve([](const http::Request&) { return http::Response{}; });
  const int port = server->port();
  AppClient client(port, 1);
  auto first = post(client, port, "");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  server->stop();  // closes the kept-alive connection
  server.reset();
  auto again = http::Server::start("127.0.0.1", port, [](const http::Request&) {
    return http::Response{204, "text/plain", "", {}};
  });
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto r = post(client, port, "");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::kResponse) << r->detail;
  EXPECT_EQ(r->status, 204);
}

// The app closing the connection after reading the request, without answering, fails it (on a
// fresh connection that is not retried: the app may have started on the message; only a
// kept-alive one the app may have closed while idle gets one more try).
TEST(SidecarHttp, ConnectionClosedBeforeTheAnswerFails) {
  const int port = testing::freePort();
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  std::thread app([&] {
    int c = ::accept(listener, nullptr, nullptr);
    char buf[4096];
    (void)::recv(c, buf, sizeof buf, 0);
    ::close(c);
  });
  AppClient client(port, 1);
  auto r = post(client, port, "x");
  app.join();
  ::close(listener);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::kTransport);
  EXPECT_EQ(r->detail, "connection closed before the answer");
}

TEST(SidecarHttp, ServerAnswersBadRequestsAndUnknownPaths) {
  EXPECT_FALSE(http::parseListenAddress("9091").ok());
  EXPECT_FALSE(http::parseListenAddress("host:1").ok());
  auto a = http::parseListenAddress(":9091");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "0.0.0.0");
  EXPECT_EQ(a->second, 9091);
}

}  // namespace
}  // namespace osmosis::sidecar
