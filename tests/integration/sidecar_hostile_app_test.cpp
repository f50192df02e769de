// The real sidecar between a real nats-server and an app that misbehaves at the HTTP level
// (tests/fixtures/hostile_app: exactly the bytes of each case of issue 16, items 6 and 7).
// Whatever the app sends, a message is acked only on its own 2xx answer; anything in doubt is
// nakked and comes back with a new delivery count.

#include <fstream>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "tests/fixtures/hostile_app.hpp"
#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;

class SidecarHostileAppTest : public SidecarFixture {
 protected:
  bool drained(std::chrono::milliseconds timeout = 30s) {
    return eventually(
        [&] {
          auto ci = consumer();
          return ci.numPending == 0 && ci.numAckPending == 0 && streamMessages() == 0;
        },
        timeout, 50ms);
  }

  // The delivery counts the app saw for requests with `body`, in order.
  static std::vector<std::string> deliveries(const HostileApp& app, const std::string& body) {
    std::vector<std::string> out;
    for (const auto& r : app.requests())
      if (r.body == body) out.push_back(r.header("Osmosis-Delivery-Count"));
    return out;
  }

  static std::string metric(int port, const std::string& name) {
    const std::string text = httpGet(port, "/metrics").body;
    const size_t at = text.find("\n" + name + " ");
    if (at == std::string::npos) return "";
    const size_t start = at + name.size() + 2;
    return text.substr(start, text.find('\n', start) - start);
  }
};

// Item 6. Before: the 102 settled "first" (nak) and the app's real answer to it (200) was
// taken as the answer to "second", which was acked although the app answered it 500.
TEST_F(SidecarHostileAppTest, InterimAnswerDoesNotSettleTheNextMessage) {
  ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  createQueue();
  publish("first");
  publish("second");
  HostileApp app([](HostileApp::Connection& c) {
    while (auto r = c.readRequest()) {
      const bool firstDelivery = r->header("Osmosis-Delivery-Count") == "1";
      if (r->body == "first" && firstDelivery) {
        c.send("HTTP/1.1 102 Processing\r\n\r\n");
        auto next = c.readRequest(500ms);  // (the old sidecar sent the next message here)
        c.send(answer(200));
        if (next) c.send(answer(next->body == "second" ? 500 : 200));
      } else {
        c.send(answer(r->body == "second" && firstDelivery ? 500 : 200));
      }
    }
  });
  auto sidecar = startSidecar(app.port(), {"--concurrency", "1", "--backoff", "100ms"});
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  EXPECT_EQ(deliveries(app, "first"), std::vector<std::string>{"1"});
  // "second" was answered 500 once, nakked, and acked on its own 200 the next time.
  EXPECT_EQ(deliveries(app, "second"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(metric(sidecar.healthPort, "osmosis_sidecar_messages_acked_total"), "2");
  EXPECT_EQ(metric(sidecar.healthPort, "osmosis_sidecar_messages_nakked_total"), "1");
}

// Item 7. The app answers a 7.5 MB message at once and reads its body afterwards (legal
// HTTP). Before: the rest of the body was never sent and the next message was written into
// it, so the app read "small" as the tail of "big".
TEST_F(SidecarHostileAppTest, EarlyAnswerToALargeMessageKeepsTheNextOneIntact) {
  std::ofstream(dir_ + "/nats.conf") << "max_payload: 8388608\n";
  server_.setExtraArgs({"-c", dir_ + "/nats.conf"});
  ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  createQueue();
  std::string big(7500000, 'b');
  for (size_t i = 0; i < big.size(); i += 4096)
    big[i] = static_cast<char>('a' + (i / 4096) % 26);
  publish(big);
  publish("small");
  HostileApp app(
      [](HostileApp::Connection& c) {
        while (auto r = c.readHead()) {
          const bool large = r->contentLength() > 1000000;
          if (large) {
            c.send(answer(200));
            std::this_thread::sleep_for(200ms);  // then the app reads the body, at its pace
          }
          if (!c.readBody(&*r)) return;
          if (!large) c.send(answer(200));
        }
      },
      HostileApp::Options{4096});
  auto sidecar = startSidecar(app.port(), {"--concurrency", "1", "--message-timeout", "10s"});
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  auto requests = app.requests();
  ASSERT_EQ(requests.size(), 2u) << readFile(sidecar.log);
  EXPECT_TRUE(requests[0].body == big) << "body of " << requests[0].body.size() << " bytes";
  EXPECT_EQ(requests[1].body, "small");
  EXPECT_EQ(requests[1].header("Osmosis-Delivery-Count"), "1");
  EXPECT_EQ(consumer().numRedelivered, 0);
}

// Item 7: answers the old reader took as success. Each is nakked; the message comes back
// (delivery 2) and is acked on a real 200.
class SidecarMalformedAnswerTest : public SidecarHostileAppTest,
                                   public ::testing::WithParamInterface<std::string> {};

TEST_P(SidecarMalformedAnswerTest, IsNakkedNotAcked) {
  ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  createQueue();
  publish("m");
  const std::string bad = GetParam();
  HostileApp app([&bad](HostileApp::Connection& c) {
    while (auto r = c.readRequest()) {
      if (r->header("Osmosis-Delivery-Count") != "1") {
        c.send(answer(200));
        continue;
      }
      c.send(bad);
      if (bad.find("chunked") != std::string::npos) return;  // (closing ends that answer)
    }
  });
  auto sidecar = startSidecar(app.port(), {"--concurrency", "1", "--backoff", "100ms"});
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  EXPECT_EQ(deliveries(app, "m"), (std::vector<std::string>{"1", "2"})) << readFile(sidecar.log);
  EXPECT_EQ(metric(sidecar.healthPort, "osmosis_sidecar_messages_nakked_total"), "1");
  EXPECT_NE(readFile(sidecar.log).find("app connection failed: "), std::string::npos)
      << readFile(sidecar.log);
}

INSTANTIATE_TEST_SUITE_P(Answers, SidecarMalformedAnswerTest,
                         ::testing::Values("HTTP/1.1 2009 OK\r\nContent-Length: 0\r\n\r\n",
                                           "HTTP/1.1X200XOK\r\nContent-Length: 0\r\n\r\n",
                                           "HTTP/1.1 200 OK\r\nContent-Length: 2xyz\r\n\r\nok",
                                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           "ffffffffffffffff\r\nX0\r\n\r\n"),
                         [](const auto& param) { return "Case" + std::to_string(param.index); });

// Item 7. The app received the message on a kept-alive connection and closed it without an
// answer. Before: the sidecar sent it again at once with the same delivery count (the app
// could not tell a retry from a new message). Now it is nakked and comes back as delivery 2.
TEST_F(SidecarHostileAppTest, MessageReceivedBeforeACloseIsNotResentWithTheSameDeliveryCount) {
  ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  createQueue();
  HostileApp app([](HostileApp::Connection& c) {
    int answered = 0;  // (the sidecar's reachability probe is a connection without requests)
    while (auto r = c.readRequest()) {
      if (r->body == "two" && answered > 0) return;  // received; closes without answering
      c.send(answer(200));
      ++answered;
    }
  });
  auto sidecar = startSidecar(app.port(), {"--concurrency", "1", "--backoff", "100ms"});
  ASSERT_TRUE(waitReady(sidecar)) << readFile(sidecar.log);
  publish("one");
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  publish("two");  // (on the connection "one" used)
  ASSERT_TRUE(drained()) << readFile(sidecar.log);
  EXPECT_EQ(deliveries(app, "two"), (std::vector<std::string>{"1", "2"}));
}

}  // namespace
}  // namespace osmosis::testing
