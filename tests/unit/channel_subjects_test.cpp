// Subject syntax and overlap rules (what NATS itself would refuse, and which Channels would
// fight over a message), plus the NATS-side names derived from Kubernetes names.

#include <set>

#include <gtest/gtest.h>

#include "operator/channel/naming.hpp"
#include "operator/channel/subjects.hpp"

namespace osmosis::channel {
namespace {

TEST(Subjects, ValidSubjects) {
  for (const char* s : {"a", "a.b", "a.*", "a.>", "*.b", "*", "orders.created.v1", "A-b_c.9"}) {
    EXPECT_FALSE(subjectProblem(s).has_value()) << s;
  }
}

TEST(Subjects, InvalidSubjectsSayWhy) {
  EXPECT_NE(subjectProblem("")->find("empty"), std::string::npos);
  EXPECT_NE(subjectProblem("a..b")->find("empty token"), std::string::npos);
  EXPECT_NE(subjectProblem(".a")->find("empty token"), std::string::npos);
  EXPECT_NE(subjectProblem("a.")->find("empty token"), std::string::npos);
  EXPECT_NE(subjectProblem("a b")->find("whitespace"), std::string::npos);
  EXPECT_NE(subjectProblem("a.\tb")->find("whitespace"), std::string::npos);
  EXPECT_NE(subjectProblem("a.b*")->find("whole tokens"), std::string::npos);
  EXPECT_NE(subjectProblem("a.>>")->find("whole tokens"), std::string::npos);
  EXPECT_NE(subjectProblem("a.>.b")->find("last"), std::string::npos);
}

TEST(Subjects, Overlap) {
  struct Case {
    const char* a;
    const char* b;
    bool overlap;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"a.b", "a.b", true},
           {"a.b", "a.c", false},
           {"a.*", "a.b", true},
           {"a.*", "a.b.c", false},
           {"a.>", "a.b.c", true},
           {"a.>", "a", false},
           {"a.>", "b.>", false},
           {"*.b", "a.*", true},
           {"*.b", "a.c", false},
           {">", "x.y", true},
           {"shop.orders.>", "shop.payments.>", false},
           {"shop.*.created", "shop.orders.>", true},
       }) {
    EXPECT_EQ(subjectsOverlap(c.a, c.b), c.overlap) << c.a << " vs " << c.b;
    EXPECT_EQ(subjectsOverlap(c.b, c.a), c.overlap) << "symmetric: " << c.b << " vs " << c.a;
  }
}

TEST(Subjects, Covers) {
  EXPECT_TRUE(subjectCovers("a.>", "a.b"));
  EXPECT_TRUE(subjectCovers("a.>", "a.b.c"));
  EXPECT_FALSE(subjectCovers("a.>", "a"));
  EXPECT_TRUE(subjectCovers("a.*", "a.b"));
  EXPECT_FALSE(subjectCovers("a.*", "a.b.c"));
  EXPECT_FALSE(subjectCovers("a.*", "a.>"));
  EXPECT_TRUE(subjectCovers("a.b", "a.b"));
  EXPECT_FALSE(subjectCovers("a.b", "a.*"));
}

TEST(Naming, StreamNameIsUpperCaseNamespaceAndName) {
  EXPECT_EQ(streamName("shop", "orders"), "SHOP_ORDERS");
  EXPECT_EQ(streamName("team-a", "orders-v2"), "TEAM-A_ORDERS-V2");
}

TEST(Naming, StreamNamesDoNotCollideAcrossNamespaces) {
  // Kubernetes names cannot contain '_', so the separator is unambiguous.
  std::set<std::string> names;
  for (const auto& [ns, name] : std::initializer_list<std::pair<const char*, const char*>>{
           {"a-b", "c"}, {"a", "b-c"}, {"ab", "c"}, {"a", "bc"}}) {
    EXPECT_TRUE(names.insert(streamName(ns, name)).second) << ns << "/" << name;
  }
}

TEST(Naming, LongNamesAreShortenedWithAHashAndStayDistinct) {
  std::string ns(63, 'n'), a(63, 'a'), b = std::string(62, 'a') + "b";
  std::string sa = streamName(ns, a), sb = streamName(ns, b);
  EXPECT_LE(sa.size(), 120u);
  EXPECT_LE(sb.size(), 120u);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(sa, streamName(ns, a)) << "stable";
  for (char c : sa)
    EXPECT_TRUE(c != '.' && c != '*' && c != '>' && c != ' ') << sa;
}

TEST(Naming, SubjectsDerivedFromNames) {
  EXPECT_EQ(defaultSubjects("shop", "orders"), std::vector<std::string>{"shop.orders.>"});
  EXPECT_EQ(reportSubject("shop", "orders"), "osmosis.report.shop.orders");
  EXPECT_FALSE(
      subjectsOverlap(defaultSubjects("shop", "orders")[0], reportSubject("shop", "orders")));
}

}  // namespace
}  // namespace osmosis::channel
