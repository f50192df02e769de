// The worker's local endpoint (sidecar/results/local_endpoint.hpp): routing and answers, with
// NATS replaced by a recording sink.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sidecar/results/local_endpoint.hpp"

namespace osmosis::sidecar::results {
namespace {

using nlohmann::json;

const std::string kId = "shop.orders.0123456789abcdef0123456789abcdef";

struct Published {
  std::string subject;
  std::string data;
  nats::Headers headers;
};

class RecordingSink : public LocalSink {
 public:
  bool up = true;
  bool failPublish = false;
  std::vector<std::string> live = {kId};
  std::vector<Published> published;

  bool natsUp() const override { return up; }
  Status publishProgress(const std::string& id, const std::string& event) override {
    if (std::find(live.begin(), live.end(), id) == live.end())
      return makeError(Error::Code::kNotFound, "not in flight");
    return publish("osmosis.results." + id, event, {{"Osmosis-Event", "progress"}});
  }
  Status publish(const std::string& subject, std::string_view data,
                 const nats::Headers& headers) override {
    if (failPublish) return makeError(Error::Code::kUnavailable, "connection closed");
    published.push_back({subject, std::string(data), headers});
    return {};
  }
};

http::Request post(const std::string& target, std::string body, std::string type = "") {
  http::Request r;
  r.method = "POST";
  r.target = target;
  r.body = std::move(body);
  if (!type.empty()) r.headers.emplace_back("Content-Type", type);
  return r;
}

const LocalEndpointOptions kOptions{"shop", "orders", 64};

TEST(SidecarLocalEndpoint, ProgressIsPublishedToTheRequestsResultsSubject) {
  RecordingSink sink;
  auto r =
      handleLocal(post("/v1/requests/" + kId + "/progress", "{\"pct\":50}", "application/json"),
                  kOptions, sink);
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(sink.published.size(), 1u);
  EXPECT_EQ(sink.published[0].subject, "osmosis.results." + kId);
  EXPECT_EQ(json::parse(sink.published[0].data),
            (json{{"type", "progress"}, {"data", {{"pct", 50}}}}));
  EXPECT_EQ(sink.published[0].headers, (nats::Headers{{"Osmosis-Event", "progress"}}));
}

TEST(SidecarLocalEndpoint, BroadcastKeepsTheContentType) {
  RecordingSink sink;
  auto r = handleLocal(post("/v1/broadcast", "state=3", "text/plain"), kOptions, sink);
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(sink.published.size(), 1u);
  EXPECT_EQ(sink.published[0].subject, "osmosis.broadcast.shop.orders");
  EXPECT_EQ(sink.published[0].data, "state=3");
  EXPECT_EQ(sink.published[0].headers, (nats::Headers{{"Content-Type", "text/plain"}}));
}

TEST(SidecarLocalEndpoint, Refusals) {
  struct Case {
    std::string name;
    http::Request request;
    int status;
    bool natsUp = true;
    bool failPublish = false;
  };
  const std::string progress = "/v1/requests/" + kId + "/progress";
  http::Request get = post(progress, "");
  get.method = "GET";
  http::Request putBroadcast = post("/v1/broadcast", "x");
  putBroadcast.method = "PUT";
  std::vector<Case> cases = {
      {"unknown path", post("/v1/other", "x"), 404},
      {"root", post("/", "x"), 404},
      {"no id", post("/v1/requests//progress", "x"), 404},
      {"malformed id", post("/v1/requests/shop.orders.nothex/progress", "x"), 404},
      {"another channel's id",
       post("/v1/requests/shop.billing.0123456789abcdef0123456789abcdef/progress", "x"), 404},
      {"not in flight here",
       post("/v1/requests/shop.orders.ffffffffffffffffffffffffffffffff/progress", "x"), 404},
      {"GET progress", get, 405},
      {"PUT broadcast", putBroadcast, 405},
      {"progress over the limit", post(progress, std::string(65, 'x')), 413},
      {"broadcast over the limit", post("/v1/broadcast", std::string(65, 'x')), 413},
      {"progress not JSON", post(progress, "{", "application/json"), 400},
      {"progress not UTF-8", post(progress, "\xff", "text/plain"), 400},
      {"progress, NATS down", post(progress, "x"), 503, false},
      {"broadcast, NATS down", post("/v1/broadcast", "x"), 503, false},
      {"broadcast, publish fails", post("/v1/broadcast", "x"), 503, true, true},
  };
  for (const auto& c : cases) {
    RecordingSink sink;
    sink.up = c.natsUp;
    sink.failPublish = c.failPublish;
    auto r = handleLocal(c.request, kOptions, sink);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_TRUE(sink.published.empty()) << c.name;
    if (c.status == 405) {
      EXPECT_EQ(r.headers, (http::HeaderList{{"Allow", "POST"}})) << c.name;
    }
  }
}

}  // namespace
}  // namespace osmosis::sidecar::results
