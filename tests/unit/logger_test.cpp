#include "common/log/logger.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace osmosis::log {
namespace {

const auto kTime = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795460530123));

TEST(FormatLine, IsOneJsonObjectWithTimeLevelMessageAndFields) {
  std::string line =
      formatLine(Level::kWarn, kTime, "pull failed", {{"stream", "ORDERS"}, {"attempt", 3}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], "2026-11-23T19:02:10.123Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "pull failed");
  EXPECT_EQ(j["stream"], "ORDERS");
  EXPECT_EQ(j["attempt"], 3);
  // time, level, msg come first so humans can read the lines too.
  EXPECT_EQ(line.rfind("{\"time\":", 0), 0u);
}

TEST(FormatLine, ReservedFieldNamesDoNotShadowTheEnvelope) {
  auto j =
      nlohmann::json::parse(formatLine(Level::kInfo, kTime, "m", {{"msg", "x"}, {"level", 1}}));
  EXPECT_EQ(j["msg"], "m");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["field.msg"], "x");
  EXPECT_EQ(j["field.level"], 1);
}

TEST(FormatLine, InvalidUtf8AndNewlinesNeverBreakTheLine) {
  std::string bad = "a\xff\xfe\nb";
  std::string line = formatLine(Level::kError, kTime, bad, {{"body", bad}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_TRUE(nlohmann::json::accept(line));
}

TEST(Logger, FiltersByLevelAndWritesToTheSink) {
  std::ostringstream out;
  auto& logger = Logger::global();
  logger.setSink(&out);
  logger.setClock([] { return kTime; });
  logger.setLevel(Level::kWarn);
  info("hidden");
  warn("shown", {{"k", "v"}});
  logger.setLevel(Level::kInfo);
  logger.setSink(nullptr);
  std::string s = out.str();
  EXPECT_EQ(s.find("hidden"), std::string::npos);
  ASSERT_NE(s.find("shown"), std::string::npos);
  EXPECT_EQ(s.back(), '\n');
}

TEST(ParseLevel, KnowsTheFourLevels) {
  EXPECT_EQ(parseLevel("debug"), Level::kDebug);
  EXPECT_EQ(parseLevel("warning"), Level::kWarn);
  EXPECT_FALSE(parseLevel("verbose").has_value());
}

}  // namespace
}  // namespace osmosis::log
