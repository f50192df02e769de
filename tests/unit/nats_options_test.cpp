#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "common/nats/options.hpp"

namespace osmosis::nats {
namespace {

bool mentions(const std::vector<std::string>& problems, const std::string& word) {
  for (const auto& p : problems) {
    if (p.find(word) != std::string::npos) return true;
  }
  return false;
}

TEST(NatsOptions, DefaultsAreValid) {
  EXPECT_TRUE(validate(ConnectionOptions{}).empty());
}

TEST(NatsOptions, RejectsBadUrls) {
  ConnectionOptions o;
  o.urls = {"http://example:4222", "nats://", "a b"};
  auto problems = validate(o);
  EXPECT_EQ(problems.size(), 3u);
  o.urls = {};
  EXPECT_TRUE(mentions(validate(o), "no NATS URL"));
}

TEST(NatsOptions, OneAuthenticationMethodAtATime) {
  ConnectionOptions o;
  o.token = "t";
  o.user = "u";
  o.password = "p";
  EXPECT_TRUE(mentions(validate(o), "one NATS authentication method"));
  o.token.clear();
  o.password.clear();
  EXPECT_TRUE(mentions(validate(o), "user and password go together"));
}

TEST(NatsOptions, TlsCertificateNeedsItsKey) {
  ConnectionOptions o;
  o.tls.certFile = "/x/cert.pem";
  EXPECT_TRUE(mentions(validate(o), "certificate and key"));
}

TEST(SplitUrls, SplitsAndTrims) {
  EXPECT_EQ(splitUrls("nats://a:1, nats://b:2,,"),
            (std::vector<std::string>{"nats://a:1", "nats://b:2"}));
  EXPECT_TRUE(splitUrls("").empty());
}

TEST(NatsFlags, ReadFlagsAndEnvironment) {
  CLI::App app;
  ConnectionOptions o;
  std::string urls;
  addFlags(app, &o, &urls);
  setenv("OSMOSIS_NATS_TOKEN", "s3cret", 1);
  const char* argv[] = {"x", "--nats-url", "nats://h:1,nats://h:2"};
  app.parse(3, argv);
  unsetenv("OSMOSIS_NATS_TOKEN");
  EXPECT_EQ(splitUrls(urls).size(), 2u);
  EXPECT_EQ(o.token, "s3cret");
}

}  // namespace
}  // namespace osmosis::nats
