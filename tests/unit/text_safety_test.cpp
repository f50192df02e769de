// Text from outside on its way to logs, Events, status, JSON and request lines (issue 16,
// items 4, 9 and 18): credentials out, invalid bytes replaced, paths checked.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/http/path.hpp"
#include "common/util/json_text.hpp"
#include "common/util/redact.hpp"

namespace osmosis {
namespace {

TEST(Redact, UrlsLoseTheirCredentials) {
  EXPECT_EQ(redactUrl("nats://user:pw@host:4222"), "nats://REDACTED@host:4222");
  EXPECT_EQ(redactUrl("nats://s3cr3t-token@host"), "nats://REDACTED@host");
  EXPECT_EQ(redactUrl("user:p@ss@host:4222"), "REDACTED@host:4222") << "the last @ ends userinfo";
  EXPECT_EQ(redactUrl("tls://host:4222"), "tls://host:4222");
  EXPECT_EQ(redactUrl("host"), "host");
  EXPECT_TRUE(hasUserinfo("nats://u:p@h"));
  EXPECT_FALSE(hasUserinfo("nats://h:4222/path@x")) << "an @ after the authority is not userinfo";
  EXPECT_EQ(withoutUserinfo("nats://u:p@h:1"), "nats://h:1");
  EXPECT_EQ(withoutUserinfo("nats://h:1"), "nats://h:1");
}

TEST(Redact, FreeTextLosesEveryUrlsCredentials) {
  const std::string text =
      "connecting to NATS at nats://alice:pw1@a:4222,nats://tok@b:4222: no server (\"nats://"
      "bob:pw2@c\")";
  std::string out = redactCredentials(text);
  for (const char* secret : {"alice", "pw1", "tok@", "bob", "pw2"})
    EXPECT_EQ(out.find(secret), std::string::npos) << out;
  EXPECT_NE(out.find("nats://REDACTED@a:4222,nats://REDACTED@b:4222"), std::string::npos) << out;
  EXPECT_EQ(redactCredentials("no urls here"), "no urls here");
}

TEST(JsonText, DumpNeverThrowsOnInvalidUtf8) {
  nlohmann::json j = {{"message", std::string("nats://\x80\xff")}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error) << "what killed the operator";
  std::string out;
  EXPECT_NO_THROW(out = dumpJson(j));
  EXPECT_NE(out.find("nats://"), std::string::npos);
}

TEST(JsonText, PrintableTextIsValidUtf8WithoutControlsAndBounded) {
  EXPECT_EQ(printableText("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");
  EXPECT_EQ(printableText("a\x80z"), "a\xef\xbf\xbdz");
  EXPECT_EQ(printableText("a\r\nb\tc"), "a??b c");
  EXPECT_EQ(printableText("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd") << "overlong form";
  EXPECT_EQ(printableText("\xed\xa0\x80").find("\xed"), std::string::npos) << "surrogate";
  std::string cut = printableText(std::string(100, 'x'), 10);
  EXPECT_EQ(cut, "xxxxxxx...");
  EXPECT_LE(printableText("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 6).size(), 6u);
  EXPECT_NO_THROW((void)nlohmann::json(printableText("\xff\xfe\x80")).dump());
}

TEST(HttpPath, OnlyWhatAUrlPathMayHold) {
  for (const char* ok : {"/", "/in", "/a/b-c_d.e~f", "/x?y=1&z=%20", "/@:!$'()*+,;="})
    EXPECT_FALSE(http::pathProblem(ok)) << ok;
  for (const char* bad : {"", "in", "/x y", "/x\r\nHost: evil", "/x\n", "/%zz", "/%2", "/\x80",
                          "/x#frag", "/x\"y", "/x<y"})
    EXPECT_TRUE(http::pathProblem(bad)) << bad;
  EXPECT_TRUE(http::pathProblem("/" + std::string(2000, 'a')));
}

}  // namespace
}  // namespace osmosis
