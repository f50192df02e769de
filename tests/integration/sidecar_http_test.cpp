// The sidecar's HTTP client against the project's small HTTP server, on loopback.

#include <atomic>
#include <thread>

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
