// NATS header blocks read line by line (issue 16, item 16): one odd line costs only itself.

#include <gtest/gtest.h>

#include "common/nats/headers.hpp"

namespace osmosis::nats {
namespace {

TEST(NatsHeaders, AnEmptyValueIsKeptAndTakesNothingElseWithIt) {
  auto b = parseHeaderBlock(
      "NATS/1.0\r\nX-Empty:\r\nContent-Type: text/plain\r\nX-Id: 7\r\nX-Id: 8\r\n\r\n");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->malformed, 0);
  ASSERT_EQ(b->headers.size(), 4u);
  EXPECT_EQ(b->headers[0], (std::pair<std::string, std::string>{"X-Empty", ""}));
  EXPECT_EQ(b->headers[1], (std::pair<std::string, std::string>{"Content-Type", "text/plain"}));
  EXPECT_EQ(b->headers[3].second, "8") << "repeated keys stay repeated, in order";
}

TEST(NatsHeaders, MalformedLinesAreCountedAndSkipped) {
  auto b = parseHeaderBlock(
      "NATS/1.0\r\nno colon here\r\n: no key\r\nBad Key: x\r\nGood: 1\r\nCtl: a\x01"
      "b\r\n folded continuation\r\nAlso-Good:2\r\n\r\n");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->malformed, 5);
  ASSERT_EQ(b->headers.size(), 2u);
  EXPECT_EQ(b->headers[0].first, "Good");
  EXPECT_EQ(b->headers[1], (std::pair<std::string, std::string>{"Also-Good", "2"}));
}

TEST(NatsHeaders, StatusLineBareLineFeedsAndNotABlock) {
  auto b = parseHeaderBlock("NATS/1.0 503\r\n\r\n");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, "503");
  EXPECT_TRUE(b->headers.empty());
  b = parseHeaderBlock("NATS/1.0\nA: 1\nB: 2\n\n");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->headers.size(), 2u);
  EXPECT_FALSE(parseHeaderBlock("HTTP/1.1 200 OK\r\n\r\n"));
  EXPECT_FALSE(parseHeaderBlock(""));
}

}  // namespace
}  // namespace osmosis::nats
