// The client's own logic (paging, retries, error decoding, watch stream handling) driven by a
// scripted transport. Against the real API server: tests/integration/kube_*.

#include <deque>

#include <gtest/gtest.h>

#include "operator/kube/cache/store.hpp"
#include "operator/kube/client/client.hpp"
#include "operator/kube/events/event_recorder.hpp"

namespace osmosis::kube {
namespace {

using namespace std::chrono_literals;

class ScriptedTransport : public Transport {
 public:
  std::deque<Result<HttpResponse>> replies;
  std::vector<HttpRequest> requests;
  std::vector<std::string> streamChunks;
  HttpResponse streamStatus{200, "", ""};

  Result<HttpResponse> send(const HttpRequest& r) override {
    requests.push_back(r);
    if (replies.empty()) return makeError(Error::Code::kInternal, "no scripted reply");
    auto reply = replies.front();
    replies.pop_front();
    return reply;
  }
  Result<HttpResponse> stream(const HttpRequest& r,
                              const std::function<bool(std::string_view)>& onChunk,
                              StopSource&) override {
    requests.push_back(r);
    if (streamStatus.status != 200) return streamStatus;
    for (const auto& c : streamChunks) {
      if (!onChunk(c)) break;
    }
    return HttpResponse{200, "", ""};
  }
};

ClientOptions fastRetries() {
  ClientOptions o;
  o.qps = 0;
  o.retryBackoff = {1ms, 2.0, 0.0, 2ms};
  return o;
}

TEST(Client, ListFollowsContinueTokens) {
  auto t = std::make_shared<ScriptedTransport>();
  t->replies.push_back(HttpResponse{
      200,
      R"({"metadata":{"continue":"c1","resourceVersion":"5"},"items":[{"metadata":{"name":"a"}}]})",
      ""});
  t->replies.push_back(HttpResponse{
      200, R"({"metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"b"}}]})", ""});
  Client c(t, fastRetries());
  auto l = c.list(resources::configMaps(), "ns", {"", "", 1, "", ""});
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->items.size(), 2u);
  EXPECT_EQ(l->resourceVersion, "9");
  ASSERT_EQ(t->requests.size(), 2u);
  EXPECT_EQ(t->requests[1].target, "/api/v1/namespaces/ns/configmaps?continue=c1&limit=1");
}

TEST(Client, ReadsRetryOn5xxAndConnectionErrors) {
  auto t = std::make_shared<ScriptedTransport>();
  t->replies.push_back(makeError(Error::Code::kUnavailable, "connection refused"));
  t->replies.push_back(HttpResponse{503, "", ""});
  t->replies.push_back(HttpResponse{200, R"({"metadata":{"name":"x"}})", ""});
  Client c(t, fastRetries());
  auto got = c.get(resources::configMaps(), "ns", "x");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(t->requests.size(), 3u);
}

TEST(Client, WritesAreNotRetriedOn5xxButAreOn429) {
  auto t = std::make_shared<ScriptedTransport>();
  t->replies.push_back(
      HttpResponse{500, R"({"kind":"Status","reason":"InternalError","message":"boom"})", ""});
  Client c(t, fastRetries());
  auto created = c.create(resources::configMaps(), "ns", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(t->requests.size(), 1u);
  EXPECT_NE(created.error().message.find("boom"), std::string::npos);

  t->requests.clear();
  t->replies.push_back(HttpResponse{429, "", "0"});
  t->replies.push_back(HttpResponse{201, R"({"metadata":{"name":"x"}})", ""});
  EXPECT_TRUE(c.create(resources::configMaps(), "ns", {{"metadata", {{"name", "x"}}}}).ok());
  EXPECT_EQ(t->requests.size(), 2u);
}

TEST(Client, GivesUpAfterMaxRetries) {
  auto t = std::make_shared<ScriptedTransport>();
  for (int i = 0; i < 10; ++i)
    t->replies.push_back(HttpResponse{503, "", ""});
  auto o = fastRetries();
  o.maxRetries = 2;
  Client c(t, o);
  auto got = c.get(resources::configMaps(), "ns", "x");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(t->requests.size(), 3u);
}

TEST(Client, PatchTypesAndApplyNeedsAFieldManager) {
  auto t = std::make_shared<ScriptedTransport>();
  t->replies.push_back(HttpResponse{200, "{}", ""});
  Client c(t, fastRetries());
  EXPECT_FALSE(c.patch(resources::deployments(), "ns", "d", PatchType::kApply, {}).ok());
  PatchOptions o;
  o.fieldManager = "osmosis";
  o.force = true;
  ASSERT_TRUE(c.patch(resources::deployments(), "ns", "d", PatchType::kApply, {{"a", 1}}, o).ok());
  EXPECT_EQ(t->requests[0].contentType, "application/apply-patch+yaml");
  EXPECT_EQ(t->requests[0].target,
            "/apis/apps/v1/namespaces/ns/deployments/d?fieldManager=osmosis&force=true");
}

TEST(Client, WatchSplitsChunksAndStopsOnAnErrorEvent) {
  auto t = std::make_shared<ScriptedTransport>();
  std::string stream =
      R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"1"}}})"
      "\n"
      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"2"}}})"
      "\n"
      R"({"type":"ERROR","object":{"kind":"Status","reason":"Expired","code":410,"message":"too old"}})"
      "\n"
      R"({"type":"ADDED","object":{"metadata":{"name":"never","resourceVersion":"3"}}})"
      "\n";
  for (size_t i = 0; i < stream.size(); i += 7)
    t->streamChunks.push_back(stream.substr(i, 7));
  Client c(t, fastRetries());
  std::vector<std::string> seen;
  StopSource stop;
  Status st = c.watch(
      resources::configMaps(), "ns", {"1", "", "", 300, true},
      [&](WatchEvent& ev) {
        seen.push_back(std::string(typeName(ev.type)) + ":" + resourceVersionOf(ev.object));
        return true;
      },
      stop);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(isGone(st.error()));
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:1", "BOOKMARK:2"}));
  EXPECT_NE(t->requests[0].target.find("allowWatchBookmarks=true"), std::string::npos);
  EXPECT_NE(t->requests[0].target.find("resourceVersion=1"), std::string::npos);
  EXPECT_NE(t->requests[0].target.find("timeoutSeconds=300"), std::string::npos);
}

TEST(Client, WatchRefusedWith410IsGone) {
  auto t = std::make_shared<ScriptedTransport>();
  t->streamStatus = {410, R"({"kind":"Status","reason":"Expired","code":410})", ""};
  Client c(t, fastRetries());
  StopSource stop;
  Status st = c.watch(
      resources::configMaps(), "ns", {}, [](WatchEvent&) { return true; }, stop);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(isGone(st.error()));
}

TEST(Client, DiscoveryFindsAnyKindWithItsPlural) {
  auto t = std::make_shared<ScriptedTransport>();
  t->replies.push_back(HttpResponse{
      200,
      R"({"resources":[{"name":"widgets/scale","kind":"Scale"},{"name":"widgets","kind":"Widget","namespaced":true}]})",
      ""});
  Client c(t, fastRetries());
  auto r = c.resourceFor("example.com/v1", "Widget");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->plural, "widgets");
  EXPECT_TRUE(c.resourceFor("example.com/v1", "Widget").ok());  // cached
  EXPECT_EQ(t->requests.size(), 1u);
}

TEST(Store, RevisionMovesWithEveryChangeAndOnlyThen) {
  Store s;
  auto obj = [](const std::string& name, const std::string& rv) {
    return nlohmann::json{
        {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
  };
  const uint64_t r0 = s.revision();
  s.upsert(obj("a", "1"));
  const uint64_t r1 = s.revision();
  EXPECT_GT(r1, r0);
  EXPECT_FALSE(s.erase(obj("missing", "1")).has_value());
  EXPECT_EQ(s.revision(), r1) << "nothing erased";
  EXPECT_TRUE(s.replace({obj("a", "1")}).empty());
  EXPECT_EQ(s.revision(), r1) << "a relist that changes nothing";
  s.replace({obj("a", "2")});
  const uint64_t r2 = s.revision();
  EXPECT_GT(r2, r1);
  s.erase(obj("a", "2"));
  EXPECT_GT(s.revision(), r2);
}

TEST(Store, ReplaceReportsAddsUpdatesAndDeletes) {
  Store s;
  auto obj = [](const std::string& name, const std::string& rv) {
    return nlohmann::json{
        {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
  };
  s.upsert(obj("keep", "1"));
  s.upsert(obj("change", "1"));
  s.upsert(obj("gone", "1"));
  auto deltas = s.replace({obj("keep", "1"), obj("change", "2"), obj("new", "3")});
  std::map<std::string, Delta::Type> byName;
  for (const auto& d : deltas)
    byName[(d.object ? *d.object : *d.oldObject)["metadata"]["name"]] = d.type;
  EXPECT_EQ(byName.size(), 3u);
  EXPECT_EQ(byName["change"], Delta::Type::kUpdated);
  EXPECT_EQ(byName["gone"], Delta::Type::kDeleted);
  EXPECT_EQ(byName["new"], Delta::Type::kAdded);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.listNamespace("ns").size(), 3u);
  EXPECT_TRUE(s.listNamespace("other").empty());
}

// Hostile input (issue 16, item 4): a Secret's URL with a byte 0x80 reached an Event; dump()
// threw in the recorder's thread and the operator died, at every restart again.
TEST(EventRecorder, InvalidUtf8InAMessageIsReplacedNotFatal) {
  auto t = std::make_shared<ScriptedTransport>();
  t->replies.push_back(HttpResponse{201, R"({"metadata":{"name":"e"}})", ""});
  Client c(t, fastRetries());
  EventRecorder events(c, EventRecorderOptions{});
  ObjectRef ref;
  ref.kind = "Channel";
  ref.ns = "shop";
  ref.name = "orders";
  events.warning(ref, "NatsConfigInvalid", std::string("invalid NATS URL \"nats://\x80\xff\""));
  ASSERT_TRUE(events.flush(5s));
  ASSERT_EQ(t->requests.size(), 1u);
  auto body = nlohmann::json::parse(t->requests[0].body);  // valid JSON, valid UTF-8
  EXPECT_NE(body["message"].get<std::string>().find("nats://\xef\xbf\xbd"), std::string::npos);
  EXPECT_EQ(events.stats().created, 1u);
}

}  // namespace
}  // namespace osmosis::kube
