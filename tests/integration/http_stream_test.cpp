// The project's HTTP server streaming (common/http/server): chunked answers sent in parts
// (server-sent events) and WebSocket upgrades, checked with clients we did not write (curl,
// python3-websockets), and against clients that go away or stop reading.

#include <arpa/inet.h>
#include <atomic>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/http/server.hpp"
#include "tests/fixtures/child_process.hpp"

namespace osmosis::http {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::runCommand;

// Debian's python3 (python3-websockets), not whichever python3 comes first on PATH.
std::string wsClient() {
  return std::string(OSMOSIS_SOURCE_DIR) + "/tests/tools/ws_client.py";
}

struct Streams {
  std::mutex mu;
  std::vector<Stream> open;
  std::atomic<int> closed{0};
  std::vector<std::string> received;
};

// /sse: three parts and the end. /hold: a stream left open. /ws: a WebSocket that says hello,
// echoes what it gets, and ends after "bye". /flood: 64 KiB parts as fast as it can.
std::unique_ptr<Server> streamingServer(Streams& s, ServerOptions options = {}) {
  options.threads = 2;
  auto server = Server::startAsync(
      "127.0.0.1", 0,
      [&s](Request&& req, Responder r) {
        const auto onClosed = [&s] { ++s.closed; };
        if (req.path() == "/sse") {
          auto st =
              r.stream({200, "text/event-stream", "", {{"Cache-Control", "no-cache"}}}, onClosed);
          for (int i = 1; i <= 3; ++i)
            st.send("id: " + std::to_string(i) + "\ndata: part\n\n");
          st.close();
        } else if (req.path() == "/hold" || req.path() == "/flood") {
          auto st = r.stream({200, "text/event-stream", "", {}}, onClosed);
          st.send(": open\n\n");
          if (req.path() == "/flood") {
            std::thread([st] {
              const std::string part(64 * 1024, 'x');
              while (st.send(part))
                std::this_thread::sleep_for(1ms);
            }).detach();
          }
          std::lock_guard lock(s.mu);
          s.open.push_back(st);
        } else if (req.path() == "/ws") {
          auto holder = std::make_shared<Stream>();
          *holder = r.acceptWebSocket(
              [&s, holder](std::string text) {
                {
                  std::lock_guard lock(s.mu);
                  s.received.push_back(text);
                }
                if (text == "bye") return holder->close();
                holder->send("echo:" + text);
              },
              [&s, holder] {
                ++s.closed;
                *holder = Stream();  // (breaks the cycle through the handler)
              });
          holder->send("hello");
        } else {
          r.respond({404, "text/plain", "no\n", {}});
        }
      },
      options);
  EXPECT_TRUE(server.ok()) << server.error().message;
  return std::move(server.value());
}

TEST(HttpStream, ChunkedPartsReachCurlInOrderAndTheStreamEnds) {
  Streams s;
  auto server = streamingServer(s);
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port()) + "/sse";
  auto r = runCommand({"curl", "-sS", "-N", "-i", "--max-time", "10", url});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Content-Type: text/event-stream"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Transfer-Encoding: chunked"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("id: 1\ndata: part\n\nid: 2\ndata: part\n\nid: 3\ndata: part\n\n"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(eventually([&] { return s.closed == 1; }, 5s));
  // HTTP/1.0 has no chunks: the parts as they are, and the end is the connection's.
  auto old = runCommand({"curl", "-sS", "-N", "--http1.0", "--max-time", "10", url});
  EXPECT_EQ(old.code, 0) << old.err;
  EXPECT_EQ(old.out, "id: 1\ndata: part\n\nid: 2\ndata: part\n\nid: 3\ndata: part\n\n");
}

TEST(HttpStream, AClientThatGoesAwayEndsTheStream) {
  Streams s;
  auto server = streamingServer(s);
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port()) + "/hold";
  // curl gives up after a second while the stream is open.
  auto r = runCommand({"curl", "-sS", "-N", "--max-time", "1", url});
  EXPECT_EQ(r.code, 28) << r.err;  // (timed out: the stream never ended by itself)
  EXPECT_EQ(r.out, ": open\n\n");
  ASSERT_TRUE(eventually([&] { return s.closed == 1; }, 5s)) << "onClosed did not run";
  std::lock_guard lock(s.mu);
  ASSERT_EQ(s.open.size(), 1u);
  EXPECT_FALSE(s.open[0].open());
  EXPECT_FALSE(s.open[0].send("late"));
  EXPECT_EQ(server->connections(), 0u);
}

TEST(HttpStream, AClientThatStopsReadingIsClosedNotBuffered) {
  Streams s;
  ServerOptions o;
  o.maxStreamQueueBytes = 512 * 1024;
  auto server = streamingServer(s, o);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(server->port()));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  // Never read: the server's queue passes its cap, and it closes the stream.
  EXPECT_TRUE(eventually([&] { return s.closed == 1; }, 20s)) << "the slow reader was kept";
  ::close(fd);
}

TEST(HttpStream, WebSocketWithAClientWeDidNotWrite) {
  Streams s;
  auto server = streamingServer(s);
  const std::string url = "ws://127.0.0.1:" + std::to_string(server->port()) + "/ws";
  auto r = runCommand({"/usr/bin/python3", wsClient(), url, "--send", "one", "--send", "two",
                       "--send", "bye", "--timeout", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\necho:one\necho:two\n");
  EXPECT_TRUE(eventually([&] { return s.closed == 1; }, 5s));
  std::lock_guard lock(s.mu);
  EXPECT_EQ(s.received, (std::vector<std::string>{"one", "two", "bye"}));
}

TEST(HttpStream, WebSocketRefusals) {
  Streams s;
  auto server = streamingServer(s);
  const std::string base = "127.0.0.1:" + std::to_string(server->port());
  // A plain GET to a WebSocket endpoint: 400, not a hang.
  auto plain = runCommand({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                           "5", "http://" + base + "/ws"});
  EXPECT_EQ(plain.out, "400");
  // A message over the limit closes the WebSocket (the client sees the close).
  auto big = runCommand({"/usr/bin/python3", wsClient(), "ws://" + base + "/ws", "--send",
                         std::string(80 * 1024, 'x'), "--timeout", "10"});
  EXPECT_NE(big.out.find("hello"), std::string::npos);
  EXPECT_EQ(big.out.find("echo:"), std::string::npos);
  // (one for the refused upgrade, one for the WebSocket)
  EXPECT_TRUE(eventually([&] { return s.closed == 2; }, 5s)) << s.closed;
}

TEST(HttpStream, StopClosesOpenStreamsAndWebSockets) {
  Streams s;
  auto server = streamingServer(s);
  const int port = server->port();
  std::thread sse([port] {
    runCommand({"curl", "-sS", "-N", "--max-time", "20",
                "http://127.0.0.1:" + std::to_string(port) + "/hold"});
  });
  std::thread ws([port] {
    runCommand({"/usr/bin/python3", wsClient(), "ws://127.0.0.1:" + std::to_string(port) + "/ws",
                "--timeout", "20"});
  });
  ASSERT_TRUE(eventually([&] { return server->connections() == 2; }, 10s));
  const auto started = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_TRUE(eventually([&] { return s.closed == 2; }, 5s));
  sse.join();
  ws.join();
}

}  // namespace
}  // namespace osmosis::http
