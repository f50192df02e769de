// Hostile input at the sidecar (issue 16), as real processes between a real nats-server and the
// real test app: dead letters that must not vanish (items 8, 11, 14) and NATS headers that must
// not take each other down (item 16).

#include <arpa/inet.h>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/fixtures/sidecar_fixture.hpp"

namespace osmosis::testing {
namespace {

using namespace std::chrono_literals;

class SidecarHostileTest : public SidecarFixture {
 protected:
  void SetUp() override {
    SidecarFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(startServerAndConnect());
  }

  // Every message of `stream`, with its headers (all values of a key, in order).
  std::vector<std::pair<std::string, std::multimap<std::string, std::string>>> readAll(
      const std::string& stream, size_t expect) {
    nats::ConsumerConfig c;
    c.durable = "inspect";
    EXPECT_TRUE(js_->addOrUpdateConsumer(stream, c).ok());
    auto sub = js_->pullSubscribe(stream, "inspect");
    EXPECT_TRUE(sub.ok());
    std::vector<std::pair<std::string, std::multimap<std::string, std::string>>> out;
    while (out.size() < expect) {
      auto msgs = sub->fetch(static_cast<int>(expect - out.size()), 5s);
      if (!msgs.ok() || msgs->empty()) break;
      for (auto& m : *msgs) {
        std::multimap<std::string, std::string> h;
        for (auto& [k, v] : m.headers())
          h.emplace(k, v);
        out.emplace_back(std::string(m.data()), std::move(h));
        (void)m.ack();
      }
    }
    return out;
  }

  std::string metrics(const Sidecar& s) { return httpGet(s.healthPort, "/metrics").body; }
};

// Item 8: the dead-letter copy kept the original Nats-Msg-Id, so a second message reusing an
// id was deduplicated away, and a "duplicate" counted as success: termed and stored nowhere.
// Nats-Expected-* headers made the publish fail. Item 14: incoming Osmosis-* headers went into
// the copy ahead of the sidecar's own.
TEST_F(SidecarHostileTest, EveryDeadLetterIsStoredWithOnlyTheSidecarsMetadata) {
  nats::StreamConfig s;
  s.name = "ORDERS";
  s.subjects = {"shop.orders.>"};
  s.duplicateWindow = 100ms;  // so two messages with one id both get in
  ASSERT_TRUE(js_->addStream(s).ok());
  createConsumer();
  createDeadLetterStream();
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--dead-letter-subject", "shop.dead"});
  ASSERT_TRUE(waitReady(sidecar));

  publish("id=one status=422", {{"Nats-Msg-Id", "reused"}});
  ASSERT_TRUE(eventually([&] { return streamMessages("DEAD") == 1; }, 10s));
  // ORDERS forgets the id when its 100 ms duplicate window's timer fires, which on a busy
  // machine can be later (a CI run lost "two" as a duplicate after a 150 ms sleep): publish
  // until the stream stores it as new. A duplicate is not stored, so only one copy gets in.
  ASSERT_TRUE(eventually(
      [&] {
        auto ack = js_->publishAck("shop.orders.new", "id=two status=422", "",
                                   {{"Nats-Msg-Id", "reused"}, {"Osmosis-Error", "spoofed"}});
        EXPECT_TRUE(ack.ok()) << ack.error().message;
        return ack.ok() && !ack->duplicate;
      },
      10s))
      << "ORDERS still takes the id for a duplicate";
  publish("id=three status=422",
          {{"Nats-Expected-Stream", "ORDERS"}, {"Osmosis-Original-Subject", "spoofed.subject"}});
  ASSERT_TRUE(eventually([&] { return streamMessages("DEAD") == 3; }, 10s))
      << "dead letters stored: " << streamMessages("DEAD") << "\n"
      << readFile(sidecar.log);

  auto dead = readAll("DEAD", 3);
  ASSERT_EQ(dead.size(), 3u);
  for (auto& [body, h] : dead) {
    EXPECT_EQ(h.count("Osmosis-Error"), 1u) << body;
    EXPECT_NE(h.find("Osmosis-Error")->second.find("422"), std::string::npos) << body;
    EXPECT_EQ(h.count("Osmosis-Original-Subject"), 1u) << body;
    EXPECT_EQ(h.find("Osmosis-Original-Subject")->second, "shop.orders.new") << body;
    EXPECT_EQ(h.count("Nats-Expected-Stream"), 0u) << body;
    // Its own id: a retried publish of this message is stored once, no other can collide.
    ASSERT_EQ(h.count("Nats-Msg-Id"), 1u) << body;
    EXPECT_EQ(h.find("Nats-Msg-Id")->second.rfind("osmosis-dl:ORDERS:", 0), 0u) << body;
    if (body.find("id=three") == std::string::npos) {
      ASSERT_EQ(h.count("Osmosis-Original-Msg-Id"), 1u) << body;
      EXPECT_EQ(h.find("Osmosis-Original-Msg-Id")->second, "reused");
    }
  }
  EXPECT_NE(metrics(sidecar).find("osmosis_sidecar_messages_dead_lettered_total 3\n"),
            std::string::npos);
}

// Item 11: on the last delivery a failed dead-letter publish became a nak, the server never
// delivered the message again, and it sat in the stream invisible to the backlog. Now it is
// held (in progress, counted in flight) and the publish retried until it works.
TEST_F(SidecarHostileTest, AFailingDeadLetterPublishHoldsTheMessageUntilItWorks) {
  createQueue(2s, 1);  // ackWait 2 s, maxDeliver 1: the first delivery is the last
  nats::StreamConfig dead;
  dead.name = "DEAD";
  dead.subjects = {"shop.dead"};
  dead.retention = nats::Retention::kLimits;
  dead.maxMsgSize = 64;  // the copy (body + headers) does not fit
  ASSERT_TRUE(js_->addStream(dead).ok());
  auto app = startApp(freePort());
  auto sidecar = startSidecar(app.port, {"--dead-letter-subject", "shop.dead"});
  ASSERT_TRUE(waitReady(sidecar));
  publish("id=big status=422 " + std::string(200, 'x'));

  ASSERT_TRUE(eventually(
      [&] {
        return metrics(sidecar).find("osmosis_sidecar_dead_letter_held 1\n") != std::string::npos;
      },
      10s))
      << metrics(sidecar);
  // Three ack waits later it is still held by this pod, not redelivered, not lost.
  const auto held = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] { return std::chrono::steady_clock::now() - held > 6s && consumer().numAckPending == 1; },
      10s, 500ms));
  EXPECT_EQ(consumer().numRedelivered, 0) << "in-progress kept it";
  EXPECT_EQ(events(readRecords(app.record), "start").size(), 1u);
  EXPECT_EQ(streamMessages(), 1u);
  auto m = metrics(sidecar);
  EXPECT_EQ(m.find("osmosis_sidecar_dead_letter_failures_total 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("osmosis_sidecar_messages_in_flight 1\n"), std::string::npos)
      << "counted in flight, so in the backlog";

  // The dead-letter stream is fixed: the held message goes there, and out of the queue.
  dead.maxMsgSize = -1;
  ASSERT_TRUE(js_->updateStream(dead).ok());
  ASSERT_TRUE(eventually([&] { return streamMessages("DEAD") == 1 && streamMessages() == 0; }, 40s))
      << readFile(sidecar.log);
  EXPECT_TRUE(eventually(
      [&] {
        return metrics(sidecar).find("osmosis_sidecar_dead_letter_held 0\n") != std::string::npos;
      },
      5s));
}

// Sends one message with exactly these header bytes, as the NATS protocol carries them (the
// nats CLI and libnats refuse to write malformed ones).
void rawHeaderPublish(int port, const std::string& subject, const std::string& headers,
                      const std::string& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string in;
  char buf[4096];
  auto readUntil = [&](const std::string& what) {
    while (in.find(what) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in.append(buf, static_cast<size_t>(n));
    }
    return true;
  };
  ASSERT_TRUE(readUntil("\r\n"));  // INFO
  std::string out = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";
  out += "HPUB " + subject + " " + std::to_string(headers.size()) + " " +
         std::to_string(headers.size() + body.size()) + "\r\n" + headers + body + "\r\nPING\r\n";
  ASSERT_EQ(::send(fd, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
  ASSERT_TRUE(readUntil("PONG")) << in;
  EXPECT_EQ(in.find("-ERR"), std::string::npos) << in;
  ::close(fd);
}

// Item 16: one empty-valued or malformed header line made libnats drop every header of the
// message (Content-Type included), silently.
TEST_F(SidecarHostileTest, AnOddHeaderLineCostsOnlyItself) {
  createQueue();
  auto app = startApp(freePort(), {"--record-headers"});
  auto sidecar = startSidecar(app.port);
  ASSERT_TRUE(waitReady(sidecar));
  rawHeaderPublish(server_.port(), "shop.orders.new",
                   "NATS/1.0\r\nX-Empty:\r\nContent-Type: text/plain\r\nno colon\r\n"
                   "Trace-Id: t-1\r\n\r\n",
                   "id=odd");
  ASSERT_TRUE(
      eventually([&] { return events(readRecords(app.record), "done", 200).size() == 1; }, 10s))
      << readFile(sidecar.log);
  auto start = events(readRecords(app.record), "start").at(0);
  const auto& h = start["headers"];
  EXPECT_EQ(h.value("Content-Type", ""), "text/plain") << h.dump();
  EXPECT_EQ(h.value("Trace-Id", ""), "t-1") << h.dump();
  EXPECT_TRUE(h.contains("X-Empty")) << h.dump();
  EXPECT_NE(readFile(sidecar.log).find("malformed NATS header lines ignored"), std::string::npos);
}

}  // namespace
}  // namespace osmosis::testing
