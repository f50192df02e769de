// The sidecar's HTTP framing without sockets: building requests (Beast messages) and reading
// the app's answers (Beast's parser) as their bytes arrive, in any split, including the
// hostile and malformed answers of issue 16.

#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "sidecar/dispatch/http_client.hpp"
#include "sidecar/dispatch/response_reader.hpp"

namespace osmosis::sidecar {
namespace {

using namespace std::chrono_literals;
using State = ResponseReader::State;

// Feeds `response` to `reader` `step` bytes at a time, as recv() would, keeping what the
// reader leaves, until it is done or bad. `left` gets the bytes it did not take.
State readInSteps(const std::string& response, size_t step, ResponseReader* reader,
                  std::string* left = nullptr) {
  std::string buf;
  State state = State::kNeedMore;
  for (size_t at = 0; at < response.size() && state == State::kNeedMore; at += step) {
    buf.append(response, at, step);
    size_t used = 0;
    state = reader->parse(buf, &used);
    EXPECT_LE(used, buf.size());
    buf.erase(0, used);
  }
  if (left != nullptr) *left = buf;
  return state;
}

// Every split of `response` ends in the same state and status.
void expectInEverySplit(const std::string& response, State want, int status = 0) {
  for (size_t step : {1u, 2u, 3u, 7u, 64u, 100000u}) {
    ResponseReader reader;
    EXPECT_EQ(readInSteps(response, step, &reader), want) << "step " << step << ": " << response;
    if (want == State::kDone) {
      EXPECT_EQ(reader.status(), status) << step;
    }
    if (want == State::kBad) {
      EXPECT_NE(reader.problem(), "") << step;
    }
  }
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

TEST(SidecarHttpParse, RequestIsABeastMessageWithLengthHeadersAndBody) {
  AppRequest* request = nullptr;
  AppClient client(1, 1);
  request = client.request(0);
  RequestBuilder req(request);
  req.begin("/work", 8080, 5);
  req.header("Osmosis-Message-Id", "7");
  req.header("Trace-Id", std::string_view("a\r\nInjected: yes\0z", 18));
  req.end("hello");
  EXPECT_EQ(serialize(*request),
            "POST /work HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 5\r\n"
            "Osmosis-Message-Id: 7\r\nTrace-Id: a  Injected: yes z\r\n\r\nhello");
  // Reused for the next message: nothing of the last one stays; repeated names are kept.
  req.begin("/", 1, 2);
  req.header("X-A", "1");
  req.header("X-A", "2");
  req.end("hi");
  EXPECT_EQ(
      serialize(*request),
      "POST / HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\nhi");
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
  expectInEverySplit(response, State::kDone, 202);
  ResponseReader reader;
  ASSERT_EQ(readInSteps(response, 5, &reader), State::kDone);
  EXPECT_TRUE(reader.keepAlive());
  EXPECT_FALSE(reader.retryAfter().has_value());
  EXPECT_EQ(reader.interim(), 0);
}

TEST(SidecarHttpParse, ChunkedBody) {
  expectInEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
      "10;ext=1\r\n0123456789abcdef\r\n0\r\n\r\n",
      State::kDone, 200);
  expectInEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", State::kBad);
}

TEST(SidecarHttpParse, BodyUntilCloseAndNoBody) {
  ResponseReader untilClose;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\n\r\nsome body", 4, &untilClose), State::kNeedMore);
  EXPECT_EQ(untilClose.closed(), State::kDone);
  EXPECT_EQ(untilClose.status(), 200);
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
  ResponseReader oldKept;
  ASSERT_EQ(readInSteps("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
                        100, &oldKept),
            State::kDone);
  EXPECT_TRUE(oldKept.keepAlive());
}

// Issue 16 item 6: a 1xx is not the answer. The final answer that follows it is, on the same
// connection, for the same request.
// Results events (--results): a 2xx answer's headers and body are kept, bounded.
TEST(SidecarHttpParse, CaptureKeepsA2xxAnswerInEverySplit) {
  const std::string lengthBody =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-A: 1\r\n"
      "Content-Length: 11\r\n\r\n{\"ok\":true}";
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\n{\"ok\":\r\n5\r\ntrue}\r\n0\r\n\r\n";
  for (const auto& [response, status, type] :
       std::vector<std::tuple<std::string, int, std::string>>{{lengthBody, 201, "application/json"},
                                                              {chunked, 200, ""}}) {
    for (size_t step : {1u, 3u, 100000u}) {
      ResponseReader reader;
      reader.reset(size_t{1024});
      ASSERT_EQ(readInSteps(response, step, &reader), State::kDone) << step;
      EXPECT_EQ(reader.status(), status);
      ASSERT_TRUE(reader.captured());
      EXPECT_TRUE(reader.bodyKept());
      EXPECT_EQ(reader.bodyBytes(), 11u);
      EXPECT_EQ(reader.takeBody(), "{\"ok\":true}");
      auto headers = reader.takeHeaders();
      bool sawType = false;
      for (const auto& [k, v] : headers)
        if (k == "Content-Type") sawType = v == type;
      EXPECT_EQ(sawType, !type.empty());
    }
  }
}

TEST(SidecarHttpParse, CaptureCountsABodyOverTheLimitWithoutKeepingIt) {
  const std::string body(5000, 'x');
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body;
  ResponseReader reader;
  reader.reset(size_t{1024});
  ASSERT_EQ(readInSteps(response, 700, &reader), State::kDone);
  EXPECT_TRUE(reader.captured());
  EXPECT_FALSE(reader.bodyKept());
  EXPECT_EQ(reader.bodyBytes(), 5000u);
  EXPECT_EQ(reader.takeBody(), "");
}

TEST(SidecarHttpParse, CaptureIgnoresFailuresAndIsOffByDefault) {
  ResponseReader failed;
  failed.reset(size_t{1024});
  ASSERT_EQ(readInSteps("HTTP/1.1 500 No\r\nContent-Length: 3\r\n\r\nbad", 100, &failed),
            State::kDone);
  EXPECT_FALSE(failed.captured());
  EXPECT_EQ(failed.takeBody(), "");
  ResponseReader plain;
  ASSERT_EQ(readInSteps("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 100, &plain),
            State::kDone);
  EXPECT_FALSE(plain.captured());
  EXPECT_EQ(plain.takeBody(), "");
  // reset() without a limit turns it off again.
  ResponseReader again;
  again.reset(size_t{1024});
  again.reset();
  ASSERT_EQ(readInSteps("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 100, &again),
            State::kDone);
  EXPECT_FALSE(again.captured());
}

TEST(SidecarHttpParse, InterimAnswersAreSkippedAndTheFinalOneCounts) {
  expectInEverySplit(
      "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 500 Internal Server Error\r\n"
      "Content-Length: 4\r\n\r\nfail",
      State::kDone, 500);
  expectInEverySplit(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + kOk,
      State::kDone, 200);
  ResponseReader reader;
  ASSERT_EQ(readInSteps("HTTP/1.1 102 Processing\r\nRetry-After: 9\r\n\r\n" + kOk, 1000, &reader),
            State::kDone);
  EXPECT_EQ(reader.interim(), 1);
  EXPECT_FALSE(reader.retryAfter().has_value());  // (the interim answer's is not the answer's)
  // Only an interim answer so far: not done, whatever the split.
  expectInEverySplit("HTTP/1.1 102 Processing\r\n\r\n", State::kNeedMore);
  ResponseReader cut;
  EXPECT_EQ(readInSteps("HTTP/1.1 102 Processing\r\n\r\n", 1000, &cut), State::kNeedMore);
  EXPECT_EQ(cut.closed(), State::kBad);
  EXPECT_NE(cut.problem().find("interim"), std::string::npos) << cut.problem();
}

TEST(SidecarHttpParse, SwitchingProtocolsAndEndlessInterimAnswersAreBad) {
  expectInEverySplit("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", State::kBad);
  std::string many;
  for (int i = 0; i <= ResponseReader::kMaxInterim; ++i)
    many += "HTTP/1.1 102 Processing\r\n\r\n";
  expectInEverySplit(many + kOk, State::kBad);
}

// Issue 16 item 7: status lines, lengths and codings the hand-written reader accepted.
TEST(SidecarHttpParse, MalformedStatusLinesAreBad) {
  for (const char* bad : {"HTTP/1.1 2009 OK\r\nContent-Length: 0\r\n\r\n",
                          "HTTP/1.1X200XOK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                          "FTP/1.1 200 OK\r\n\r\n", "HTTP/1.1\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n",
                          "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
                          "\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"})
    expectInEverySplit(bad, State::kBad);
}

TEST(SidecarHttpParse, MalformedOrConflictingLengthsAreBad) {
  for (const char* bad :
       {"HTTP/1.1 200 OK\r\nContent-Length: 2xyz\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n"})
    expectInEverySplit(bad, State::kBad);
}

// Not chunked: then the body runs until the app closes (RFC 9112 6.3), and the connection
// cannot carry another request.
TEST(SidecarHttpParse, TransferEncodingOtherThanChunkedRunsUntilClose) {
  for (const char* te : {"identity", "gzip", "chunked, identity"}) {
    ResponseReader reader;
    const std::string response = std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: ") + te +
                                 "\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    EXPECT_EQ(readInSteps(response, 3, &reader), State::kNeedMore) << te;
    EXPECT_EQ(reader.closed(), State::kDone) << te;
    EXPECT_FALSE(reader.keepAlive()) << te;
  }
  expectInEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
      State::kDone, 200);
}

// A chunk size that does not fit 64 bits is bad; one that does is that many bytes, never a
// wrap-around that ends the answer early.
TEST(SidecarHttpParse, ChunkSizesDoNotWrapAround) {
  expectInEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000002\r\n",
                     State::kBad);
  ResponseReader huge;
  std::string left;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "ffffffffffffffff\r\nab\r\n0\r\n\r\n" +
                            kOk,
                        5, &huge, &left),
            State::kNeedMore);
  EXPECT_EQ(left, "");  // taken as data of that chunk
  EXPECT_EQ(huge.closed(), State::kBad);
  // A chunk-size line that never ends is bounded.
  ResponseReader endless;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                            std::string(ResponseReader::kMaxHeadBytes + 10, 'x'),
                        4096, &endless),
            State::kBad);
}

// RFC 9112 2.2: a bare LF may end a line. The reader accepts it in a head (and still refuses a
// bare CR).
TEST(SidecarHttpParse, BareLineFeedsEndLines) {
  expectInEverySplit("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", State::kDone, 200);
  expectInEverySplit("HTTP/1.1 201 Created\r\nContent-Length: 0\n\r\n", State::kDone, 201);
  expectInEverySplit(
      "HTTP/1.1 102 Processing\n\nHTTP/1.1 503 Busy\nRetry-After: 2\n"
      "Content-Length: 0\n\n",
      State::kDone, 503);
  ResponseReader reader;
  ASSERT_EQ(readInSteps("HTTP/1.1 429 Slow\nRetry-After: 3\nContent-Length: 0\n\n", 1, &reader),
            State::kDone);
  EXPECT_EQ(reader.retryAfter(), std::optional<std::chrono::milliseconds>(3s));
  expectInEverySplit("HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", State::kBad);
  EXPECT_EQ(headLength("HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"), 25u);
  EXPECT_EQ(headLength("HTTP/1.1 200 OK\nA: b\n\nbody"), 22u);
  EXPECT_EQ(headLength("HTTP/1.1 200 OK\r\nA: b\r\n"), std::string_view::npos);
}

TEST(SidecarHttpParse, BytesAfterTheAnswerAreLeft) {
  ResponseReader reader;
  std::string left;
  EXPECT_EQ(readInSteps(kOk + "HTTP/1.1 200 OK\r\n", 100000, &reader, &left), State::kDone);
  EXPECT_EQ(left, "HTTP/1.1 200 OK\r\n");
}

TEST(SidecarHttpParse, HugeHeadsAreBad) {
  ResponseReader huge;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a'), 4096, &huge),
            State::kBad);
  ResponseReader huge2;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a') + "\r\n\r\n", 100000,
                        &huge2),
            State::kBad);
}

TEST(SidecarHttpParse, ClosedConnections) {
  ResponseReader none;
  EXPECT_EQ(none.closed(), State::kBad);
  EXPECT_EQ(none.problem(), "connection closed before the answer");
  ResponseReader head;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\nContent-", 100, &head), State::kNeedMore);
  EXPECT_EQ(head.closed(), State::kBad);
  ResponseReader body;
  EXPECT_EQ(readInSteps("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 100, &body),
            State::kNeedMore);
  EXPECT_EQ(body.closed(), State::kBad);
  EXPECT_EQ(body.problem(), "connection closed inside the answer body");
}

TEST(SidecarHttpParse, BodyBytesAreTakenNotKept) {
  ResponseReader reader;
  std::string buf = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(60000, 'a');
  size_t used = 0;
  EXPECT_EQ(reader.parse(buf, &used), State::kNeedMore);
  EXPECT_EQ(used, buf.size());
  buf.assign(40000, 'b');
  EXPECT_EQ(reader.parse(buf, &used), State::kDone);
  EXPECT_EQ(used, buf.size());
}

}  // namespace
}  // namespace osmosis::sidecar
