// Several namespaces read as one cache (kube/cache/multi_namespace_store.hpp), and the
// Manager making one informer per watched namespace (kube/manager): the namespaced mode of
// the chart, where RBAC allows list and watch of Channels only in the namespaces it names.

#include <algorithm>

#include <gtest/gtest.h>

#include "common/metrics/registry.hpp"
#include "operator/kube/cache/multi_namespace_store.hpp"
#include "operator/kube/manager/manager.hpp"
#include "tests/fakes/fake_api_server.hpp"

namespace osmosis::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json channel(const std::string& ns, const std::string& name, const std::string& rv = "1") {
  return {{"apiVersion", "osmosis.dev/v1alpha1"},
          {"kind", "Channel"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}}}};
}

std::vector<std::string> keys(const std::vector<ObjectPtr>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects)
    out.push_back(keyOf(*o));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(MultiNamespaceStore, ReadsTheUnionOfItsParts) {
  Store a, b;
  a.upsert(channel("a", "one"));
  a.upsert(channel("a", "two"));
  b.upsert(channel("b", "one"));
  MultiNamespaceStore all({&a, &b});

  EXPECT_EQ(all.size(), 3u);
  EXPECT_EQ(keys(all.list()), (std::vector<std::string>{"a/one", "a/two", "b/one"}));
  EXPECT_EQ(keys(all.listNamespace("b")), (std::vector<std::string>{"b/one"}));
  EXPECT_TRUE(all.listNamespace("c").empty());
  ASSERT_NE(all.get("b/one"), nullptr);
  EXPECT_EQ((*all.get("b/one"))["metadata"]["namespace"], "b");
  EXPECT_NE(all.get("a/two"), nullptr);
  EXPECT_EQ(all.get("c/one"), nullptr);
  EXPECT_EQ(all.get("b/two"), nullptr);
}

TEST(MultiNamespaceStore, RevisionMovesWhenAnyPartChangesAndOnlyThen) {
  Store a, b;
  MultiNamespaceStore all({&a, &b});
  const uint64_t r0 = all.revision();
  a.upsert(channel("a", "one"));
  const uint64_t r1 = all.revision();
  EXPECT_GT(r1, r0);
  b.upsert(channel("b", "one"));
  const uint64_t r2 = all.revision();
  EXPECT_GT(r2, r1);
  EXPECT_EQ(all.revision(), r2);  // nothing changed: the same revision, what readers keep
  b.erase(channel("b", "one"));
  EXPECT_GT(all.revision(), r2);
  EXPECT_EQ(all.size(), 1u);
}

TEST(MultiNamespaceStore, NoPartsIsEmptyAndANullPartIsRefused) {
  MultiNamespaceStore none({});
  EXPECT_EQ(none.size(), 0u);
  EXPECT_TRUE(none.list().empty());
  EXPECT_EQ(none.get("a/one"), nullptr);
  EXPECT_THROW(MultiNamespaceStore({nullptr}), std::invalid_argument);
}

class ManagerInformers : public ::testing::Test {
 protected:
  std::shared_ptr<testing::FakeApiServer> api = std::make_shared<testing::FakeApiServer>();
  Client client{api, [] {
                  ClientOptions o;
                  o.qps = 0;
                  return o;
                }()};
  metrics::Registry metrics;
  Manager manager{client, metrics, ManagerOptions{}};
};

TEST_F(ManagerInformers, OnePerNamespaceSharedAndOneOverAllWhenNoneAreNamed) {
  auto two = manager.informers(resources::channels(), {"a", "b", "a"});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0]->ns(), "a");
  EXPECT_EQ(two[1]->ns(), "b");
  EXPECT_EQ(manager.informers(resources::channels(), {"b"}).front(), two[1]);  // shared
  EXPECT_EQ(&manager.informer(resources::channels(), "a"), two[0]);
  auto all = manager.informers(resources::channels(), {});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]->ns(), "");
  EXPECT_THROW(manager.informers(resources::channels(), {"a", ""}), std::invalid_argument);
}

// Each informer lists only its own namespace (never the cluster-wide path RBAC would refuse),
// and the union sees exactly the watched namespaces' Channels.
TEST_F(ManagerInformers, ListPerNamespaceAndTheUnionSeesOnlyWatchedNamespaces) {
  api->put(channel("a", "one"));
  api->put(channel("b", "one"));
  api->put(channel("c", "unwatched"));
  auto informers = manager.informers(resources::channels(), {"a", "b"});
  std::vector<const StoreReader*> parts;
  for (auto* i : informers) {
    parts.push_back(&i->store());
    i->start();
  }
  for (auto* i : informers)
    ASSERT_TRUE(i->waitForSync(10s)) << i->ns();
  MultiNamespaceStore all(parts);
  EXPECT_EQ(keys(all.list()), (std::vector<std::string>{"a/one", "b/one"}));
  EXPECT_EQ(all.get("c/unwatched"), nullptr);
  for (auto* i : informers)
    i->stop();

  for (const auto& r : api->requests()) {
    if (r.target.find("channels") == std::string::npos) continue;
    EXPECT_TRUE(r.target.rfind("/apis/osmosis.dev/v1alpha1/namespaces/a/channels", 0) == 0 ||
                r.target.rfind("/apis/osmosis.dev/v1alpha1/namespaces/b/channels", 0) == 0)
        << r.method << " " << r.target;
  }
  EXPECT_GE(api->count("GET", "/namespaces/a/channels"), 1);
  EXPECT_GE(api->count("GET", "/namespaces/b/channels"), 1);
  EXPECT_EQ(api->count("GET", "/namespaces/c/"), 0);
}

struct NoReconcile : Reconciler {
  Result<ReconcileResult> reconcile(const Request&, const ReconcileLog&) override {
    return ReconcileResult{};
  }
};

// One controller fed by the informers of every watched namespace: its queue gets the keys of
// both, and none of the unwatched one (the controllers are not started: the keys stay queued).
TEST_F(ManagerInformers, OneControllerWatchesEveryNamespacesInformer) {
  api->put(channel("a", "one"));
  api->put(channel("b", "one"));
  api->put(channel("c", "unwatched"));
  auto informers = manager.informers(resources::channels(), {"a", "b"});
  NoReconcile reconciler;
  WorkQueue& queue = manager.controller("channel").watches(informers).complete(reconciler);
  for (auto* i : informers)
    i->start();
  for (auto* i : informers)
    ASSERT_TRUE(i->waitForSync(10s)) << i->ns();
  std::vector<std::string> keys;
  while (auto key = queue.tryGet(0ms)) {
    keys.push_back(*key);
    queue.done(*key);
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"a/one", "b/one"}));
  for (auto* i : informers)
    i->stop();
}

}  // namespace
}  // namespace osmosis::kube
