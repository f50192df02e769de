// The sidecar's HTTP client (AppClient: keep-alive connections on Boost.Beast, driven by one
// thread) against the project's HTTP server and against a hostile app that sends exactly the
// bytes of each case of issue 16 (interim answers, early answers, malformed answers, closes),
// on loopback.

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
#include "tests/fixtures/hostile_app.hpp"

namespace osmosis::sidecar {
namespace {

using namespace std::chrono_literals;
using Kind = DeliveryResult::Kind;
using SteadyClock = AppClient::SteadyClock;

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
  const auto deadline = SteadyClock::now() + timeout;
  while (done.size() < n) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
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
  for (int slot = 0; slot < 4; ++slot)
    begin(client, slot, server->port(), "x", &done, std::to_string(slot));
  done = finish(client, std::move(done), 4);
  ASSERT_EQ(done.size(), 4u);
  for (auto& d : done)
    EXPECT_EQ(d.result.status, 200) << d.result.detail;
  EXPECT_EQ(most.load(), 4);  // all four inside the app at once, not one after another
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
  const auto start = SteadyClock::now();
  client.wait(200ms, &done);  // (may return early, on the connect; never with an answer)
  done = finish(client, std::move(done), 1, 200ms);
  EXPECT_TRUE(done.empty());
  EXPECT_GE(SteadyClock::now() - start, 150ms);
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
  const auto start = SteadyClock::now();
  client.wait(std::chrono::milliseconds(-1), &done);
  EXPECT_LT(SteadyClock::now() - start, 3s);
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
  // The client's loop sees the close (its idle read ends) and drops the connection.
  std::vector<AppClient::Done> done;
  client.wait(1000ms, &done);
  EXPECT_TRUE(done.empty());
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
  const int listener = testing::listenOnLoopback(port);
  ASSERT_GE(listener, 0);
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

// ---- Against a hostile app (issue 16, items 6 and 7) ----

using testing::answer;
using testing::HostileApp;

// How many of the app's recorded requests had `body`.
int seen(const HostileApp& app, const std::string& body) {
  int n = 0;
  for (const auto& r : app.requests())
    n += r.body == body ? 1 : 0;
  return n;
}

// Item 6: after a 1xx the request is still waiting for its answer; the final answer that
// follows settles it (before: the 102 settled it and the real answer, 500, was taken as the
// next request's, a lost message).
TEST(SidecarHttp, InterimAnswerIsFollowedByTheRealAnswer) {
  HostileApp app([](HostileApp::Connection& c) {
    while (auto r = c.readRequest()) {
      if (r->body == "first") {
        c.send("HTTP/1.1 102 Processing\r\n\r\n");
        // The real answer once the work is done, or at once if a next request comes first.
        auto next = c.readRequest(300ms);
        c.send(answer(500, "failed"));
        if (next) c.send(answer(200));
      } else {
        c.send(answer(200));
      }
    }
  });
  AppClient client(app.port(), 1);
  auto first = post(client, app.port(), "first");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, Kind::kResponse) << first->detail;
  EXPECT_EQ(first->status, 500);
  auto second = post(client, app.port(), "second");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200) << second->detail;
  EXPECT_EQ(app.connections(), 1);  // (the connection was in step: kept)
  EXPECT_EQ(seen(app, "second"), 1);
}

// Item 7: the app answers at once and reads the (7.5 MB) body afterwards. The whole body is
// still sent, then the answer counts, and the next request starts on a clean connection
// (before: the rest of the body was dropped and the next request written into it).
TEST(SidecarHttp, EarlyAnswerWhileTheBodyIsSentStillSendsAllOfIt) {
  HostileApp app(
      [](HostileApp::Connection& c) {
        while (auto r = c.readHead()) {
          if (r->contentLength() > 1000000) {
            c.send(answer(200));
            std::this_thread::sleep_for(200ms);  // (the app's own pace: the client must wait)
          }
          if (!c.readBody(&*r)) return;
          if (r->contentLength() <= 1000000) c.send(answer(200));
        }
      },
      HostileApp::Options{4096});
  std::string big(7500000, 'b');
  for (size_t i = 0; i < big.size(); i += 4096)
    big[i] = static_cast<char>('a' + (i / 4096) % 26);
  AppClient client(app.port(), 1);
  auto first = post(client, app.port(), big);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, Kind::kResponse) << first->detail;
  EXPECT_EQ(first->status, 200);
  auto second = post(client, app.port(), "second");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200) << second->detail;
  auto requests = app.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].body == big) << "body of " << requests[0].body.size() << " bytes";
  EXPECT_EQ(requests[1].body, "second");
  EXPECT_EQ(requests[1].header("Osmosis-Message-Id"), "42");
}

// An early success, and then the app closes before it has read the body: it never had the
// whole message, so that success is not trusted (nak). An early refusal is the answer.
TEST(SidecarHttp, EarlySuccessThenCloseIsNotSuccessButEarlyRefusalIsAnAnswer) {
  HostileApp app(
      [](HostileApp::Connection& c) {
        auto r = c.readHead();
        if (!r) return;
        c.send(r->header("X-Want") == "413" ? answer(413, "", "Connection: close\r\n")
                                            : answer(200));
      },
      HostileApp::Options{4096});
  std::string big(7500000, 'x');
  AppClient client(app.port(), 1);
  auto ok = post(client, app.port(), big);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->kind, Kind::kTransport) << ok->status;
  EXPECT_NE(ok->detail.find("before reading the whole request"), std::string::npos) << ok->detail;

  std::vector<AppClient::Done> done;
  RequestBuilder req(client.request(0));
  req.begin("/work", app.port(), big.size());
  req.header("X-Want", "413");
  req.end(big);
  client.start(0, &done);
  done = finish(client, std::move(done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].result.kind, Kind::kResponse) << done[0].result.detail;
  EXPECT_EQ(done[0].result.status, 413);
}

// Item 7: answers the hand-written reader took (as success, or as framing it then got wrong).
// Each fails the request, and the connection is not used again.
class SidecarHttpMalformed : public ::testing::TestWithParam<std::string> {};

TEST_P(SidecarHttpMalformed, FailsAndClosesTheConnection) {
  const std::string bad = GetParam();
  HostileApp app([&bad](HostileApp::Connection& c) {
    if (!c.readRequest()) return;
    c.send(c.id() == 1 ? bad : answer(200));
    // Anything further on this connection would be answered 200 (taken as the next answer).
    while (c.readRequest(2s))
      c.send(answer(200));
  });
  AppClient client(app.port(), 1);
  auto r = post(client, app.port(), "x");
  ASSERT_TRUE(r.has_value()) << "no result for: " << bad;
  EXPECT_EQ(r->kind, Kind::kTransport) << bad << " -> " << r->status;
  EXPECT_FALSE(r->detail.empty());
  auto again = post(client, app.port(), "y");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200) << again->detail;
  EXPECT_EQ(app.connections(), 2);
}

INSTANTIATE_TEST_SUITE_P(
    Answers, SidecarHttpMalformed,
    ::testing::Values("HTTP/1.1 2009 OK\r\nContent-Length: 0\r\n\r\n",
                      "HTTP/1.1X200XOK\r\nContent-Length: 0\r\n\r\n",
                      "HTTP/1.1 200 OK\r\nContent-Length: 2xyz\r\n\r\nok",
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "2\r\nok\r\n0\r\n\r\n",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "10000000000000001\r\nX0\r\n\r\n",
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                      "HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n"),
    [](const auto& param) { return "Case" + std::to_string(param.index); });

// A chunk size near 2^64: the old reader added 2 to it and wrapped around to 1, then took the
// bytes after it as the end of the answer (success). It is data of that chunk: the answer is
// incomplete when the app closes.
TEST(SidecarHttp, ChunkSizeNearTwoToTheSixtyFourDoesNotWrapAround) {
  HostileApp app([](HostileApp::Connection& c) {
    if (!c.readRequest()) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nX0\r\n\r\n");
    std::this_thread::sleep_for(100ms);
  });
  AppClient client(app.port(), 1);
  auto r = post(client, app.port(), "x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::kTransport) << r->status;
  EXPECT_EQ(r->detail, "connection closed inside the answer body");
}

// Not chunked: the body runs until the app closes; then the answer is complete, and the
// connection is not reused (before: read as chunked, success at once, connection kept).
TEST(SidecarHttp, TransferEncodingIdentityRunsUntilTheAppCloses) {
  HostileApp app([](HostileApp::Connection& c) {
    if (!c.readRequest()) return;
    if (c.id() == 1) {
      c.send("HTTP/1.1 503 Busy\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n");
      std::this_thread::sleep_for(100ms);
      c.send("the rest of the body");
      return;  // (closes: the end of the answer)
    }
    c.send(answer(200));
    while (c.readRequest(2s))
      c.send(answer(200));
  });
  AppClient client(app.port(), 1);
  const auto start = SteadyClock::now();
  auto r = post(client, app.port(), "x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::kResponse) << r->detail;
  EXPECT_EQ(r->status, 503);
  EXPECT_GE(SteadyClock::now() - start, 90ms);  // (not before the app closed)
  auto again = post(client, app.port(), "y");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200) << again->detail;
  EXPECT_EQ(app.connections(), 2);
}

// RFC 9112 2.2 allows a bare LF as a line end; the old reader waited for CRLF CRLF for ever.
TEST(SidecarHttp, BareLineFeedAnswersAreRead) {
  HostileApp app([](HostileApp::Connection& c) {
    while (auto r = c.readRequest())
      c.send("HTTP/1.1 200 OK\nContent-Length: 2\n\nok");
  });
  AppClient client(app.port(), 1);
  for (int i = 0; i < 2; ++i) {
    auto r = post(client, app.port(), "x");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->kind, Kind::kResponse) << r->detail;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(app.connections(), 1);
}

// A kept-alive connection the app closes after it received the request: the request may have
// been acted on, so it is not sent again with the same delivery count (the old client resent
// it once on a new connection); the delivery fails and the message is nakked instead.
TEST(SidecarHttp, RequestIsNotResentAfterTheAppClosedHavingReceivedIt) {
  HostileApp app([](HostileApp::Connection& c) {
    while (auto r = c.readRequest()) {
      if (r->body == "two" && c.id() == 1) return;  // received, then the connection closes
      c.send(answer(200));
    }
  });
  AppClient client(app.port(), 1);
  auto one = post(client, app.port(), "one");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, 200);
  auto two = post(client, app.port(), "two");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->kind, Kind::kTransport) << two->status;
  EXPECT_EQ(two->detail, "connection closed before the answer");
  EXPECT_EQ(seen(app, "two"), 1);
  auto three = post(client, app.port(), "three");  // (a new connection)
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->status, 200);
}

// The app closes a kept-alive connection while it is idle: the client notices before sending
// (its idle read, or a look at the connection before reuse) and uses a new one. Nothing lost,
// nothing sent twice.
TEST(SidecarHttp, IdleConnectionClosedByTheAppIsNotUsed) {
  HostileApp app([](HostileApp::Connection& c) {
    if (!c.readRequest()) return;
    c.send(answer(200));  // (keep-alive, then closes all the same)
  });
  AppClient client(app.port(), 1);
  auto one = post(client, app.port(), "one");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, 200);
  ASSERT_TRUE(testing::eventually([&] { return app.closed() == 1; }, 5s));
  std::this_thread::sleep_for(5ms);  // (idle longer than the client's look-before-reuse age)
  auto two = post(client, app.port(), "two");  // no wait() in between: the close is unseen
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->kind, Kind::kResponse) << two->detail;
  EXPECT_EQ(two->status, 200);
  EXPECT_EQ(app.connections(), 2);
  EXPECT_EQ(seen(app, "two"), 1);
}

// Two answers to one request: the first is the answer, and the connection, out of step, is
// closed. Bytes arriving on an idle connection close it too.
TEST(SidecarHttp, ExtraAnswersCloseTheConnection) {
  HostileApp app([](HostileApp::Connection& c) {
    if (!c.readRequest()) return;
    if (c.id() == 1) {
      c.send(answer(201) + answer(202));
    } else if (c.id() == 2) {
      c.send(answer(203));
      std::this_thread::sleep_for(50ms);
      c.send(answer(204));  // (while the connection is idle)
    } else {
      c.send(answer(200));
    }
    while (c.readRequest(2s))
      c.send(answer(299));
  });
  AppClient client(app.port(), 1);
  auto one = post(client, app.port(), "one");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, 201);
  auto two = post(client, app.port(), "two");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->status, 203);
  std::vector<AppClient::Done> done;
  ASSERT_TRUE(testing::eventually(
      [&] {
        client.wait(10ms, &done);
        return app.closed() >= 2;  // (the client closed connection 2 on the stray answer)
      },
      5s));
  auto three = post(client, app.port(), "three");
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->status, 200);
  EXPECT_EQ(app.connections(), 3);
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
