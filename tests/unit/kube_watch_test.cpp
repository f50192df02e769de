#include <gtest/gtest.h>

#include "operator/kube/watch/line_splitter.hpp"
#include "operator/kube/watch/watch_event.hpp"

namespace osmosis::kube {
namespace {

std::vector<std::string> splitAt(const std::string& stream, const std::vector<size_t>& cuts) {
  LineSplitter s;
  std::vector<std::string> lines;
  size_t prev = 0;
  for (size_t cut : cuts) {
    EXPECT_TRUE(s.feed(std::string_view(stream).substr(prev, cut - prev),
                       [&](std::string_view l) { lines.emplace_back(l); }));
    prev = cut;
  }
  EXPECT_TRUE(s.feed(std::string_view(stream).substr(prev),
                     [&](std::string_view l) { lines.emplace_back(l); }));
  return lines;
}

TEST(LineSplitter, SameLinesWhereverTheChunksBreak) {
  const std::string stream = "{\"a\":1}\n{\"b\":22}\r\n\n{\"c\":333}\n";
  const std::vector<std::string> want = {"{\"a\":1}", "{\"b\":22}", "{\"c\":333}"};
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); ++j) {
      EXPECT_EQ(splitAt(stream, {i, j}), want) << "cuts at " << i << "," << j;
    }
  }
}

TEST(LineSplitter, CarriesAnUnfinishedLineAndAMultiMegabyteObject) {
  std::string big =
      "{\"type\":\"ADDED\",\"object\":{\"data\":\"" + std::string(3 << 20, 'x') + "\"}}";
  std::string stream = big + "\n";
  LineSplitter s;
  std::vector<size_t> sizes;
  for (size_t pos = 0; pos < stream.size(); pos += 4096) {
    s.feed(std::string_view(stream).substr(pos, 4096),
           [&](std::string_view l) { sizes.push_back(l.size()); });
  }
  ASSERT_EQ(sizes.size(), 1u);
  EXPECT_EQ(sizes[0], big.size());
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(LineSplitter, RefusesALineThatNeverEnds) {
  LineSplitter s(1024);
  EXPECT_TRUE(s.feed(std::string(1000, 'x'), [](std::string_view) {}));
  EXPECT_FALSE(s.feed(std::string(100, 'x'), [](std::string_view) {}));
}

TEST(WatchEvent, ParsesTheFiveTypes) {
  auto ev = parseWatchEvent(
      R"({"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"42"}}})");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->type, WatchEvent::Type::kModified);
  EXPECT_EQ(resourceVersionOf(ev->object), "42");
  EXPECT_EQ(keyOf(ev->object), "n/a");
  EXPECT_EQ(
      parseWatchEvent(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}})")->type,
      WatchEvent::Type::kBookmark);
  EXPECT_EQ(parseWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","code":410}})")->type,
            WatchEvent::Type::kError);
}

TEST(WatchEvent, MalformedLinesAreErrorsNotCrashes) {
  for (const char* bad :
       {"not json", "{}", R"({"type":"ADDED"})", R"({"type":"EXPLODED","object":{}})",
        R"({"type":1,"object":{}})", R"({"type":"ADDED","object":[]})", "{\"type\":\"ADD"}) {
    auto ev = parseWatchEvent(bad);
    ASSERT_FALSE(ev.ok()) << bad;
    EXPECT_EQ(ev.error().code, Error::Code::kInvalidArgument);
    EXPECT_NE(ev.error().message.find("malformed watch event"), std::string::npos);
  }
}

}  // namespace
}  // namespace osmosis::kube
