#include "common/util/duration.hpp"

#include <limits>

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

// Hostile input (issue 16, item 5): the fraction overflowed where the whole part did not.
TEST(ParseDuration, RefusesEveryOverflowInsteadOfWrapping) {
  for (const char* bad :
       {"2562047.9h", "2562048h", "9223372037s", "2562047h47m16s854775808ns", "153722867m280s",
        "1h9223372036854775807ns", "9223372036854775807ns1ns"}) {
    auto r = parseDuration(bad);
    ASSERT_FALSE(r.ok()) << bad << " parsed as " << r.value().count();
    EXPECT_NE(r.error().message.find("too large"), std::string::npos) << r.error().message;
  }
  // The largest representable duration is still accepted.
  EXPECT_EQ(parseDuration("2562047h47m16s854775807ns").value().count(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parseDuration("9223372036854775807ns").value().count(),
            std::numeric_limits<int64_t>::max());
}

TEST(ParseDurationWithin, SaysWhichBoundIsBroken) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(parseDurationWithin("30s", nanoseconds(1s), nanoseconds(1h)).value(), 30s);
  auto low = parseDurationWithin("10ms", nanoseconds(1s), nanoseconds(1h));
  ASSERT_FALSE(low.ok());
  EXPECT_NE(low.error().message.find("shorter than the minimum 1s"), std::string::npos)
      << low.error().message;
  auto high = parseDurationWithin("600000h", nanoseconds(1s), nanoseconds(1h));
  ASSERT_FALSE(high.ok());
  EXPECT_NE(high.error().message.find("longer than the maximum 1h"), std::string::npos)
      << high.error().message;
  EXPECT_FALSE(parseDurationWithin("2562047.9h", nanoseconds(0), nanoseconds::max()).ok());
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
