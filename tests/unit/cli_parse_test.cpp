#include <sstream>

#include <gtest/gtest.h>

#include "common/cli/parse.hpp"

namespace osmosis::cli {
namespace {

struct Parsed {
  std::optional<int> code;
  std::string out, err;
};

Parsed run(std::vector<const char*> args) {
  CLI::App app{"test app", "tool"};
  std::string level = "info";
  int n = 0;
  addCommonFlags(app, &level);
  app.add_option("--n", n, "a number");
  args.insert(args.begin(), "tool");
  std::ostringstream out, err;
  Parsed p;
  p.code = parse(app, static_cast<int>(args.size()), args.data(), out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

TEST(CliParse, HelpAndVersionExitZeroOnStdout) {
  auto help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--log-level"), std::string::npos);
  auto version = run({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_EQ(version.out.rfind("tool ", 0), 0u);
}

TEST(CliParse, UnknownOrMalformedFlagsExitTwoWithAReason) {
  for (auto args : std::vector<std::vector<const char*>>{
           {"--nope"}, {"--n", "abc"}, {"--n"}, {"--log-level", "loud"}}) {
    auto p = run(args);
    EXPECT_EQ(p.code, kExitUsage) << args[0];
    EXPECT_NE(p.err.find("tool: "), std::string::npos) << p.err;
    EXPECT_NE(p.err.find("--help"), std::string::npos) << p.err;
    EXPECT_TRUE(p.out.empty());
  }
}

TEST(CliParse, ValidFlagsGoOn) {
  EXPECT_FALSE(run({"--n", "3", "--log-level", "debug"}).code.has_value());
}

}  // namespace
}  // namespace osmosis::cli
