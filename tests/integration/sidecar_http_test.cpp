// The sidecar's HTTP client against the project's small HTTP server, on loopback.

#include <arpa/inet.h>
#include <atomic>
#include <netinet/in.h>
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

std::unique_ptr<http::Server> serve(http::Server::Handler h) {
  auto s = http::Server::start("127.0.0.1", 0, std::move(h));
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(s.value());
}

auto noTick = [] { return true; };

TEST(SidecarHttp, PostsBodyAndHeadersOverOneKeptAliveConnection) {
  std::atomic<int> requests{0};
  std::string seenBody, seenHeader;
  auto server = serve([&](const http::Request& r) {
    ++requests;
    seenBody = r.body;
    seenHeader = r.header("osmosis-message-id");
    return http::Response{201, "text/plain", "created", {}};
  });
  HttpClient client(server->port());
  for (int i = 0; i < 3; ++i) {
    auto r = client.post("/work", {{"Osmosis-Message-Id", "42"}}, "payload",
                         HttpClient::Clock::now() + 5s, 100ms, noTick);
    EXPECT_EQ(r.kind, Kind::kResponse) << r.detail;
    EXPECT_EQ(r.status, 201);
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

TEST(SidecarHttp, RefusedWhenNothingListens) {
  HttpClient client(testing::freePort());
  auto r = client.post("/", {}, "x", HttpClient::Clock::now() + 1s, 100ms, noTick);
  EXPECT_EQ(r.kind, Kind::kRefused);
  EXPECT_FALSE(HttpClient::reachable(testing::freePort()));
}

TEST(SidecarHttp, TimesOutAndTicksWhileWaiting) {
  auto server = serve([](const http::Request&) {
    std::this_thread::sleep_for(1500ms);
    return http::Response{};
  });
  HttpClient client(server->port());
  int ticks = 0;
  auto r = client.post("/", {}, "x", HttpClient::Clock::now() + 500ms, 50ms, [&] {
    ++ticks;
    return true;
  });
  EXPECT_EQ(r.kind, Kind::kTimeout);
  EXPECT_GE(ticks, 5);
}

TEST(SidecarHttp, TickCanAbandonTheRequest) {
  auto server = serve([](const http::Request&) {
    std::this_thread::sleep_for(1000ms);
    return http::Response{};
  });
  HttpClient client(server->port());
  int ticks = 0;
  auto r =
      client.post("/", {}, "x", HttpClient::Clock::now() + 5s, 20ms, [&] { return ++ticks < 3; });
  EXPECT_EQ(r.kind, Kind::kAborted);
}

TEST(SidecarHttp, RetryAfterIsRead) {
  auto server = serve([](const http::Request&) {
    return http::Response{429, "text/plain", "", {{"Retry-After", "3"}}};
  });
  HttpClient client(server->port());
  auto r = client.post("/", {}, "", HttpClient::Clock::now() + 2s, 100ms, noTick);
  EXPECT_EQ(r.status, 429);
  ASSERT_TRUE(r.retryAfter.has_value());
  EXPECT_EQ(*r.retryAfter, 3s);
}

TEST(SidecarHttp, ReconnectsAfterTheServerDropsAnIdleConnection) {
  auto server = serve([](const http::Request&) { return http::Response{}; });
  const int port = server->port();
  HttpClient client(port);
  EXPECT_EQ(client.post("/", {}, "", HttpClient::Clock::now() + 2s, 100ms, noTick).status, 200);
  server->stop();  // closes the kept-alive connection
  server.reset();
  auto again = http::Server::start("127.0.0.1", port, [](const http::Request&) {
    return http::Response{204, "text/plain", "", {}};
  });
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto r = client.post("/", {}, "", HttpClient::Clock::now() + 2s, 100ms, noTick);
  EXPECT_EQ(r.kind, Kind::kResponse) << r.detail;
  EXPECT_EQ(r.status, 204);
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
