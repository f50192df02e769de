#include "common/util/duration.hpp"

#include <gtest/gtest.h>

namespace osmosis {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, AcceptsGoStyleDurations) {
  EXPECT_EQ(parseDuration("30s").value(), 30s);
  EXPECT_EQ(parseDuration("250ms").value(), 250ms);
  EXPECT_EQ(parseDuration("1m30s").value(), 90s);
  EXPECT_EQ(parseDuration("24h").value(), 24h);
  EXPECT_EQ(parseDuration("1.5h").value(), 90min);
  EXPECT_EQ(parseDuration("0").value(), 0s);
  EXPECT_EQ(parseDuration("10us").value(), 10us);
  EXPECT_EQ(parseDuration("7ns").value(), 7ns);
}

TEST(ParseDuration, RejectsMalformedInputWithAClearMessage) {
  for (const char* bad : {"", "30", "s", "30x", "-5s", "1m30", "3 s", "1..5s", "999999999999h"}) {
    auto r = parseDuration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Error::Code::kInvalidArgument) << bad;
    EXPECT_NE(r.error().message.find("invalid duration"), std::string::npos) << r.error().message;
  }
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (std::chrono::nanoseconds d :
       {0ns, std::chrono::nanoseconds(250ms), std::chrono::nanoseconds(30s),
        std::chrono::nanoseconds(90s), std::chrono::nanoseconds(24h),
        std::chrono::nanoseconds(3723s), std::chrono::nanoseconds(1500ms)}) {
    auto text = formatDuration(d);
    EXPECT_EQ(parseDuration(text).value(), d) << text;
  }
  EXPECT_EQ(formatDuration(90s), "1m30s");
  EXPECT_EQ(formatDuration(250ms), "250ms");
}

}  // namespace
}  // namespace osmosis
