// The sidecar's HTTP framing without sockets: building requests and reading responses as
// their bytes arrive (in any split).

#include <gtest/gtest.h>

#include "sidecar/dispatch/http_client.hpp"

namespace osmosis::sidecar {
namespace {

using namespace std::chrono_literals;
using State = ResponseReader::State;

// Feeds `response` to a fresh reader `step` bytes at a time, as recv() would.
State readInSteps(const std::string& response, size_t step, ResponseReader* reader) {
  std::string buf;
  State state = State::kNeedMore;
  for (size_t at = 0; at < response.size() && state == State::kNeedMore; at += step) {
    buf.append(response, at, step);
    state = reader->parse(&buf);
  }
  return state;
}

TEST(SidecarHttpParse, RequestHasLengthHeadersAndBody) {
  std::string out = "left over";
  RequestBuilder req(&out);
  req.begin("/work", 8080, 5);
  req.header("Osmosis-Message-Id", "7");
  req.header("Trace-Id", std::string_view("a\r\nInjected: yes\0z", 18));
  req.end("hello");
  EXPECT_EQ(out,
            "POST /work HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 5\r\n"
            "Osmosis-Message-Id: 7\r\nTrace-Id: a  Injected: yes z\r\n\r\nhello");
}

TEST(SidecarHttpParse, HeaderNames) {
  EXPECT_TRUE(validHeaderName("Trace-Id"));
  EXPECT_FALSE(validHeaderName(""));
  EXPECT_FALSE(validHeaderName("Bad Name"));
  EXPECT_FALSE(validHeaderName("Bad:Name"));
}

TEST(SidecarHttpParse, ContentLengthBodyInEverySplit) {
  const std::string response =
      "HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
  for (size_t step : {1u, 2u, 7u, 1000u}) {
    ResponseReader reader;
    ASSERT_EQ(readInSteps(response, step, &reader), State::kDone) << step;
    EXPECT_EQ(reader.status(), 202);
    EXPECT_TRUE(reader.keepAlive());
    EXPECT_FALSE(reader.retryAfter().has_value());
  }
}

TEST(SidecarHttpParse, ChunkedBody) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
      "10;ext=1\r\n0123456789abcdef\r\n0\r\n\r\n";
  for (size_t step : {1u, 3u, 1000u}) {
    ResponseReader reader;
    EXPECT_EQ(readInSteps(response, step, &reader), State::kDone) << step;
    EXPECT_EQ(reader.status(), 200);
  }
  ResponseReader reader;
  EXPECT_EQ(
      readInSteps("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100, &reader),
      State::kBad);
}

TEST(SidecarHttpParse, BodyUntilCloseAndNoBody) {
  ResponseReader untilClose;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\n\r\nsome body", 4, &untilClose), State::kNeedMore);
  EXPECT_TRUE(untilClose.closeEnds());
  EXPECT_FALSE(untilClose.keepAlive());

  ResponseReader noContent;
  EXPECT_EQ(readInSteps("HTTP/1.1 204 No Content\r\n\r\n", 100, &noContent), State::kDone);
  EXPECT_TRUE(noContent.keepAlive());
}

TEST(SidecarHttpParse, ConnectionCloseRetryAfterAndOldVersions) {
  ResponseReader closing;
  ASSERT_EQ(readInSteps("HTTP/1.1 503 Busy\r\nConnection: close\r\nRetry-After: 7\r\n"
                        "Content-Length: 0\r\n\r\n",
                        100, &closing),
            State::kDone);
  EXPECT_EQ(closing.status(), 503);
  EXPECT_FALSE(closing.keepAlive());
  ASSERT_TRUE(closing.retryAfter().has_value());
  EXPECT_EQ(*closing.retryAfter(), 7s);

  ResponseReader old;
  ASSERT_EQ(readInSteps("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 100, &old), State::kDone);
  EXPECT_FALSE(old.keepAlive());
}

TEST(SidecarHttpParse, MalformedAnswers) {
  for (const char* bad : {"HTTP/1.1 2x0 OK\r\n\r\n", "FTP/1.1 200 OK\r\n\r\n", "HTTP/1.1\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n"}) {
    ResponseReader reader;
    EXPECT_EQ(readInSteps(bad, 100, &reader), State::kBad) << bad;
    EXPECT_STRNE(reader.problem(), "");
  }
  ResponseReader huge;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a'), 4096, &huge),
            State::kBad);
}

TEST(SidecarHttpParse, BodyBytesAreNotKept) {
  ResponseReader reader;
  std::string buf = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(60000, 'a');
  EXPECT_EQ(reader.parse(&buf), State::kNeedMore);
  EXPECT_TRUE(buf.empty());
  buf.assign(40000, 'b');
  EXPECT_EQ(reader.parse(&buf), State::kDone);
  EXPECT_TRUE(buf.empty());
}

}  // namespace
}  // namespace osmosis::sidecar
