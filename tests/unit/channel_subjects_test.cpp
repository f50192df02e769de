// Subject syntax and overlap rules (what NATS itself would refuse, and which Channels would
// fight over a message), who may use which subjects, plus the NATS-side names derived from
// Kubernetes names.

#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "common/contract/gateway_contract.hpp"
#include "common/nats/subject.hpp"
#include "operator/api/naming.hpp"
#include "operator/api/spec.hpp"
#include "operator/api/subject_claims.hpp"
#include "operator/api/subject_policy.hpp"

namespace osmosis::api {
namespace {

using nats::subjectCovers;
using nats::subjectProblem;
using nats::subjectsOverlap;

TEST(Subjects, ValidSubjects) {
  for (const char* s : {"a", "a.b", "a.*", "a.>", "*.b", "*", "orders.created.v1", "A-b_c.9",
                        "a=b.c+d.e@f.%.$g./h.#i.~j"}) {
    EXPECT_FALSE(subjectProblem(s).has_value()) << s;
  }
}

TEST(Subjects, InvalidSubjectsSayWhy) {
  EXPECT_NE(subjectProblem("")->find("empty"), std::string::npos);
  EXPECT_NE(subjectProblem("a..b")->find("empty token"), std::string::npos);
  EXPECT_NE(subjectProblem(".a")->find("empty token"), std::string::npos);
  EXPECT_NE(subjectProblem("a.")->find("empty token"), std::string::npos);
  EXPECT_NE(subjectProblem("a b")->find("character"), std::string::npos);
  EXPECT_NE(subjectProblem("a.\tb")->find("character"), std::string::npos);
  EXPECT_NE(subjectProblem("a.b*")->find("whole tokens"), std::string::npos);
  EXPECT_NE(subjectProblem("a.>>")->find("whole tokens"), std::string::npos);
  EXPECT_NE(subjectProblem("a.>.b")->find("last"), std::string::npos);
}

// Hostile input (issue 16, item 1): libnats wrote subjects into the stream-create JSON
// unescaped; every character that can leave a JSON string, a header line or the ASCII range
// is refused by the one grammar every parser uses.
TEST(Subjects, RefusesEveryCharacterThatCanBreakOutOfJsonOrAHeader) {
  EXPECT_TRUE(
      subjectProblem(R"(inj3.a"],"sources":[{"name":"VICTIM3_DATA"}],"subjects":["inj3.a)"));
  for (const std::string& bad :
       std::vector<std::string>{"a\"b", "a'b", "a[b", "a]b", "a{b", "a}b", "a,b", "a:b", "a\\b",
                                "a\rb", "a\nb", "a b", std::string("a\0b", 3), "a\x7f",
                                "a\x80"
                                "b",
                                "caf\xc3\xa9", "a;b", "a<b", "a`b"}) {
    EXPECT_TRUE(subjectProblem(bad).has_value()) << bad;
    EXPECT_TRUE(nats::tokenProblem(bad).has_value()) << bad;
  }
  EXPECT_TRUE(subjectProblem(std::string(256, 'a')).has_value()) << "too long";
  EXPECT_FALSE(subjectProblem(std::string(255, 'a')).has_value());
  EXPECT_TRUE(subjectProblem("a.>", nats::Wildcards::kForbidden).has_value());
  EXPECT_TRUE(subjectProblem("a.*.b", nats::Wildcards::kForbidden).has_value());
  EXPECT_FALSE(subjectProblem("a.b", nats::Wildcards::kForbidden).has_value());
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

// Hostile input (issue 16, item 2): a namespace may only use subjects starting with its own
// name, unless the operator grants more; report and NATS subjects are nobody's (item 17).
// The gateway's subjects (issue 14) are nobody's, grants included: a Channel there would
// capture other Channels' results or broadcasts.
TEST(SubjectPolicy, GatewayResultsAndBroadcastSubjectsAreReservedForEveryone) {
  SubjectPolicy policy;
  policy.reportPrefix = "ops.telemetry";  // the gateway's roots do not move with it
  policy.grants.push_back(parseSubjectGrant("osmosis=osmosis.>").value());
  for (const char* reserved :
       {"osmosis.results.>", "osmosis.results.shop.orders.abc", "osmosis.results.*.orders.>",
        "osmosis.broadcast.>", "osmosis.broadcast.shop.orders", "osmosis.*.shop.orders",
        "osmosis.>"}) {
    auto why = subjectOwnershipProblem("osmosis", reserved, policy);
    ASSERT_TRUE(why) << reserved;
    EXPECT_NE(why->find("gateway's subjects"), std::string::npos) << *why;
  }
  EXPECT_FALSE(subjectOwnershipProblem("osmosis", "osmosis.resultsx.a", policy));
  EXPECT_FALSE(subjectOwnershipProblem("osmosis", "osmosis.jobs.>", policy));
  // Through the spec too: subjects and the dead-letter subject.
  ParsedChannel p =
      parseChannel({{"metadata", {{"namespace", "osmosis"}, {"name", "c"}}},
                    {"spec",
                     {{"subjects", {"osmosis.results.victim.orders.>"}},
                      {"consumer", {{"deadLetterSubject", "osmosis.broadcast.x.y"}}}}}});
  ASSERT_TRUE(p.problems.empty()) << describe(p.problems);
  auto problems = subjectPolicyProblems("osmosis", p.spec, policy);
  ASSERT_EQ(problems.size(), 2u) << describe(problems);
  EXPECT_EQ(problems[0].field, "spec.subjects[0]");
  EXPECT_EQ(problems[1].field, "spec.consumer.deadLetterSubject");
}

TEST(SubjectPolicy, ANamespaceOwnsItsFirstTokenAndGrantsAddMore) {
  SubjectPolicy policy;
  EXPECT_FALSE(subjectOwnershipProblem("shop", "shop.orders.>", policy));
  EXPECT_FALSE(subjectOwnershipProblem("shop", "shop", policy));
  auto squat = subjectOwnershipProblem("rd", "victim2.jobs.>", policy);
  ASSERT_TRUE(squat);
  EXPECT_NE(squat->find("--subject-grant rd=PATTERN"), std::string::npos) << *squat;
  EXPECT_TRUE(subjectOwnershipProblem("rd", "*.jobs", policy));
  EXPECT_TRUE(subjectOwnershipProblem("rd", ">", policy));
  EXPECT_TRUE(subjectOwnershipProblem("shopx", "shop.orders", policy)) << "a prefix is not a token";

  policy.grants.push_back(parseSubjectGrant("legacy=orders.>").value());
  EXPECT_FALSE(subjectOwnershipProblem("legacy", "orders.created", policy));
  EXPECT_FALSE(subjectOwnershipProblem("legacy", "orders.>", policy));
  EXPECT_TRUE(subjectOwnershipProblem("legacy", "orders", policy)) << "orders.> does not cover it";
  EXPECT_TRUE(subjectOwnershipProblem("other", "orders.created", policy))
      << "granted to legacy only";
}

TEST(SubjectPolicy, ReportAndNatsSubjectsAreReservedForEveryone) {
  SubjectPolicy policy;
  policy.grants.push_back(parseSubjectGrant("osmosis=osmosis.>").value());
  for (const char* reserved : {"osmosis.>", "osmosis.report.shop.orders", "osmosis.*.shop.x"}) {
    auto why = subjectOwnershipProblem("osmosis", reserved, policy);
    ASSERT_TRUE(why) << reserved;
    EXPECT_NE(why->find("report subjects"), std::string::npos) << *why;
  }
  EXPECT_FALSE(subjectOwnershipProblem("osmosis", "osmosis.jobs.>", policy));
  // A configured prefix is the reserved one.
  policy.reportPrefix = "ops.telemetry";
  EXPECT_FALSE(subjectOwnershipProblem("osmosis", "osmosis.report.x", policy));
  policy.grants.push_back(parseSubjectGrant("ops=ops.>").value());
  EXPECT_TRUE(subjectOwnershipProblem("ops", "ops.telemetry.a.b", policy));
  EXPECT_TRUE(subjectOwnershipProblem("ops", "ops.>", policy));
  for (const char* nats : {"$JS.API.>", "$SYS.x", "_INBOX.abc"}) {
    policy.grants.push_back({"x", nats});
    EXPECT_TRUE(subjectOwnershipProblem("x", nats, policy)) << nats;
  }
}

TEST(SubjectPolicy, GrantsAreCheckedWhenTheOperatorStarts) {
  EXPECT_TRUE(parseSubjectGrant("legacy=orders.>").ok());
  for (const char* bad : {"legacy", "=orders.>", "legacy=", "legacy=*.x", "legacy=>",
                          "le gacy=orders", "legacy=or\"ders"}) {
    auto g = parseSubjectGrant(bad);
    ASSERT_FALSE(g.ok()) << bad;
    EXPECT_NE(g.error().message.find("--subject-grant"), std::string::npos);
  }
}

TEST(SubjectPolicy, AppliesToTheDeadLetterSubjectToo) {
  ParsedChannel p =
      parseChannel({{"metadata", {{"namespace", "rd"}, {"name", "x"}}},
                    {"spec", {{"consumer", {{"deadLetterSubject", "victim.dead"}}}}}});
  ASSERT_TRUE(p.problems.empty()) << describe(p.problems);
  auto problems = subjectPolicyProblems("rd", p.spec, SubjectPolicy{});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].field, "spec.consumer.deadLetterSubject");
  EXPECT_TRUE(subjectPolicyProblems(
                  "rd", parseChannel({{"metadata", {{"namespace", "rd"}, {"name", "x"}}}}).spec,
                  SubjectPolicy{})
                  .empty());
}

// Hostile input (issue 16, item 13): a refused Channel holds nothing, so it blocks nobody.
TEST(SubjectClaims, ARefusedChannelBlocksNobody) {
  std::vector<SubjectClaim> claims = {
      {"blk1/a", "2026-01-01T00:00:00Z", "", {"blk1.x.>"}},
      {"blk1/b", "2026-01-01T00:00:01Z", "", {"blk1.*.y"}},  // overlaps a: refused
      {"blk1/c", "2026-01-01T00:00:02Z", "", {"blk1.z.y"}},  // overlaps only b: honoured
      {"blk1/d", "2026-01-01T00:00:03Z", "", {"blk1.x.q"}},  // overlaps a: refused
  };
  EXPECT_FALSE(subjectConflict("blk1/a", claims));
  auto b = subjectConflict("blk1/b", claims);
  ASSERT_TRUE(b);
  EXPECT_NE(b->find("older Channel blk1/a"), std::string::npos) << *b;
  EXPECT_FALSE(subjectConflict("blk1/c", claims)) << "b is refused, so it holds nothing";
  EXPECT_TRUE(subjectConflict("blk1/d", claims));
  EXPECT_FALSE(subjectConflict("missing/x", claims));
}

// All refusals in one pass (what the reconciler caches) are exactly the per-Channel answers,
// on many claims in one namespace (the load benchmark's shape).
TEST(SubjectClaims, OnePassGivesEveryChannelsAnswer) {
  std::vector<SubjectClaim> claims;
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(i % 120);  // every subject wanted up to 3 times
    const std::string subject = i % 7 == 0 ? "load.c" + n + ".*" : "load.c" + n + ".new";
    claims.push_back(
        {"load/c" + std::to_string(i),
         "2026-01-01T00:" + std::to_string(10 + i / 60) + ":" + std::to_string(10 + i % 60) + "Z",
         i % 5 == 0 ? "load/other-nats" : "",
         {subject}});
  }
  // The rule, said the slow way: oldest first, refused when overlapping an honoured claim on
  // the same NATS.
  std::vector<const SubjectClaim*> byAge;
  for (const auto& c : claims)
    byAge.push_back(&c);
  std::sort(byAge.begin(), byAge.end(), [](auto* a, auto* b) {
    return std::tie(a->creationTimestamp, a->key) < std::tie(b->creationTimestamp, b->key);
  });
  std::set<std::string> refused;
  std::vector<const SubjectClaim*> honoured;
  for (const SubjectClaim* c : byAge) {
    bool clash = false;
    for (const SubjectClaim* h : honoured)
      clash = clash || (h->natsIdentity == c->natsIdentity &&
                        nats::subjectsOverlap(c->subjects[0], h->subjects[0]));
    if (clash)
      refused.insert(c->key);
    else
      honoured.push_back(c);
  }
  const auto all = subjectConflicts(claims);
  EXPECT_FALSE(all.empty());
  EXPECT_EQ(all.size(), refused.size());
  for (const auto& key : refused)
    EXPECT_TRUE(all.count(key)) << key;
}

TEST(SubjectClaims, OnlyChannelsOnTheSameNatsCompeteAndOrderDoesNotMatter) {
  std::vector<SubjectClaim> claims = {
      {"shop/b", "2026-01-01T00:00:01Z", "shop/other-nats", {"shop.orders.>"}},
      {"shop/a", "2026-01-01T00:00:00Z", "", {"shop.orders.>"}},
      {"shop/c", "2026-01-01T00:00:02Z", "", {"shop.orders.new"}},
      {"shop/d", "2026-01-01T00:00:00Z", "", {"shop.orders.old"}},  // same time as a: name order
  };
  EXPECT_FALSE(subjectConflict("shop/a", claims));
  EXPECT_FALSE(subjectConflict("shop/b", claims)) << "another NATS";
  EXPECT_TRUE(subjectConflict("shop/c", claims));
  EXPECT_TRUE(subjectConflict("shop/d", claims)) << "a is older by name on equal timestamps";
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

// A results stream is never a Channel's stream, whatever the names (results of shop/orders vs
// the Channel "orders-results" or "results" in namespace "shop", and shortened long names).
TEST(Naming, ResultsStreamNamesNeverCollideWithChannelStreams) {
  EXPECT_EQ(resultsStreamName("shop", "orders"), "SHOP_ORDERS_RESULTS");
  std::string longNs(63, 'n'), longA(63, 'a'), longB = std::string(62, 'a') + "b";
  std::set<std::string> channels, results;
  for (const auto& [ns, name] :
       std::initializer_list<std::pair<std::string, std::string>>{{"shop", "orders"},
                                                                  {"shop", "orders-results"},
                                                                  {"shop", "results"},
                                                                  {"shop-orders", "results"},
                                                                  {"shop", "orders-x"},
                                                                  {longNs, longA},
                                                                  {longNs, longB},
                                                                  {longNs, longA + "-results"}}) {
    channels.insert(streamName(ns, name));
    EXPECT_TRUE(results.insert(resultsStreamName(ns, name)).second) << ns << "/" << name;
    EXPECT_LE(resultsStreamName(ns, name).size(), 128u);
  }
  for (const auto& r : results)
    EXPECT_FALSE(channels.count(r)) << r << " is also a Channel's stream name";
}

TEST(Naming, GatewayPathAndResultsSubjectFollowTheContract) {
  EXPECT_EQ(gatewayPath("shop", "orders"), "/v1/namespaces/shop/channels/orders/messages");
  const std::string id = contract::gateway::formatRequestId("shop", "orders", std::string(32, 'a'));
  EXPECT_TRUE(subjectCovers(contract::gateway::resultsStreamSubject("shop", "orders"),
                            contract::gateway::resultsSubject(id)));
  EXPECT_FALSE(subjectCovers(contract::gateway::resultsStreamSubject("shop", "order"),
                             contract::gateway::resultsSubject(id)));
}

TEST(Naming, SubjectsDerivedFromNames) {
  EXPECT_EQ(defaultSubjects("shop", "orders"), std::vector<std::string>{"shop.orders.>"});
  EXPECT_EQ(reportSubject("shop", "orders"), "osmosis.report.shop.orders");
  EXPECT_FALSE(
      subjectsOverlap(defaultSubjects("shop", "orders")[0], reportSubject("shop", "orders")));
}

}  // namespace
}  // namespace osmosis::api
