// The sidecar's results code (sidecar/results) on what a worker or publisher sends: the local
// endpoint's routing and answers (POST /v1/requests/{id}/progress, POST /v1/broadcast), the
// progress and result event builders, and Osmosis-Request-Id checks. The input is split at
// '\n' into method, target, Content-Type and the body (the rest).
//  - the endpoint answers only 202/400/404/405/413/503, publishes only on 202 and only a
//    progress event for an id of its own channel;
//  - every event is a JSON object of its type;
//  - a result event read back by the gateway (resultResponse) gives the worker's status,
//    Content-Type and body as they were, and only header names that are HTTP tokens.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/contract/gateway_contract.hpp"
#include "common/util/base64.hpp"
#include "sidecar/results/events.hpp"
#include "sidecar/results/local_endpoint.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/gateway_events.hpp"

namespace {

using namespace osmosis;
namespace res = osmosis::sidecar::results;
namespace cg = osmosis::contract::gateway;

constexpr const char* kNs = "ns";
constexpr const char* kChannel = "ch";

class Sink : public res::LocalSink {
 public:
  bool up = true;
  std::vector<std::string> subjects;
  std::vector<std::string> events;
  bool natsUp() const override { return up; }
  Status publish(const std::string& subject, std::string_view, const nats::Headers&) override {
    subjects.push_back(subject);
    return {};
  }
  Status publishProgress(const std::string& id, const std::string& event) override {
    if (id.size() % 2) return makeError(Error::Code::kNotFound, "not in flight");
    subjects.push_back(cg::resultsSubject(id));
    events.push_back(event);
    return {};
  }
};

std::vector<std::string> fields(std::string_view text, size_t n) {
  std::vector<std::string> out;
  while (out.size() + 1 < n) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    out.emplace_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  out.emplace_back(text);
  out.resize(n);
  return out;
}

bool isObjectOfType(const std::string& json, const char* type) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  return j.is_object() && j.value("type", "") == type;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto f = fields(asText(data, size), 4);

  // The local endpoint.
  http::Request req;
  req.method = f[0];
  req.target = f[1];
  if (!f[2].empty()) req.headers.emplace_back("Content-Type", f[2]);
  req.body = f[3];
  Sink sink;
  sink.up = size % 3 != 0;
  const auto answer =
      res::handleLocal(req, {kNs, kChannel, static_cast<size_t>(size % 64) * 4}, sink);
  FUZZ_REQUIRE(answer.status == 202 || answer.status == 400 || answer.status == 404 ||
               answer.status == 405 || answer.status == 413 || answer.status == 503);
  FUZZ_REQUIRE((answer.status == 202) == !sink.subjects.empty());
  if (answer.status == 202) FUZZ_REQUIRE(req.method == "POST");
  if (answer.status == 405)
    FUZZ_REQUIRE(answer.headers.size() == 1 && answer.headers[0].first == "Allow");
  for (const auto& event : sink.events)
    FUZZ_REQUIRE(isObjectOfType(event, cg::kEventProgress));
  if (!sink.events.empty()) {
    const std::string prefix = std::string(cg::kResultsSubjectRoot) + "." + kNs + "." + kChannel;
    FUZZ_REQUIRE(sink.subjects[0].rfind(prefix + ".", 0) == 0);
  }

  // Osmosis-Request-Id as a publisher sets it.
  const auto check = res::checkRequestId({{"osmosis-request-id", f[1]}}, kNs, kChannel);
  if (check.verdict == res::RequestIdCheck::Verdict::kOurs) {
    const auto id = cg::parseRequestId(check.id);
    FUZZ_REQUIRE(id && id->ns == kNs && id->channel == kChannel);
  }

  // The event builders.
  if (auto progress = res::progressEvent(f[2], f[3]))
    FUZZ_REQUIRE(isObjectOfType(progress.value(), cg::kEventProgress));
  FUZZ_REQUIRE(isObjectOfType(res::failedEvent(std::nullopt, f[3], true), cg::kEventFailed));
  FUZZ_REQUIRE(isObjectOfType(res::retryEvent(size, -1, f[3]), cg::kEventRetry));
  FUZZ_REQUIRE(isObjectOfType(res::deliveredEvent(size, f[1]), cg::kEventDelivered));

  // A result event, and the gateway's answer from it.
  res::AppAnswer app;
  app.status = 200 + static_cast<int>(size % 100);
  app.headers = {{"Content-Type", f[2]}, {"X-" + f[0], f[1]}};
  app.body = f[3];
  app.bodyBytes = f[3].size();
  const uint64_t limit = size % 2 ? 1 << 20 : size % 16;
  const std::string event = res::resultEvent(app, limit);
  FUZZ_REQUIRE(isObjectOfType(event, cg::kEventResult));
  nats::StoredMessage m{cg::resultsSubject("ns.ch.0123456789abcdef0123456789abcdef"),
                        1,
                        {{cg::kHeaderEvent, cg::kEventResult}},
                        event};
  osmosis::fuzz::checkStoredEvent(m);
  const auto back = gateway::resultResponse(m);
  FUZZ_REQUIRE(back && back->status == app.status);
  if (app.body.size() <= limit) {
    FUZZ_REQUIRE(back->body == app.body);
    FUZZ_REQUIRE(back->contentType == f[2] || !res::validUtf8(f[2]));
  } else {
    FUZZ_REQUIRE(back->body.empty());
  }
  return 0;
}
