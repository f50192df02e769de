// The gateway's pure request handling (gateway/api): route() and the header parsers, from one
// input split at '\n' into method, target, Idempotency-Key, Prefer, Authorization and
// Last-Event-ID. Never a crash; a matched route names only what a subject can carry; what the
// parsers accept is within their grammar.
#include <chrono>
#include <string>
#include <vector>

#include "common/contract/gateway_contract.hpp"
#include "gateway/api/headers.hpp"
#include "gateway/api/routes.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

namespace gw = osmosis::gateway;
namespace cg = osmosis::contract::gateway;

std::vector<std::string_view> fields(std::string_view text, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  out.push_back(text);
  out.resize(n);
  return out;
}

bool hasSpaceAtEnds(std::string_view s) {
  return !s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto f = fields(asText(data, size), 6);
  const std::string_view method = f[0], target = f[1];
  const std::string path(target.substr(0, target.find('?')));  // as http::Request::path()

  const gw::Route r = gw::route(method, path);
  switch (r.verdict) {
    case gw::Route::Verdict::kMatched:
    case gw::Route::Verdict::kMethodNotAllowed:
      if (r.endpoint == gw::Endpoint::kPublish || r.endpoint == gw::Endpoint::kChannelEvents) {
        if (r.verdict == gw::Route::Verdict::kMatched) {
          FUZZ_REQUIRE(cg::isDnsLabel(r.ns) && cg::isDnsLabel(r.channel));
          FUZZ_REQUIRE(path ==
                       "/v1/namespaces/" + r.ns + "/channels/" + r.channel +
                           (r.endpoint == gw::Endpoint::kPublish ? "/messages" : "/events"));
        }
      } else if (r.verdict == gw::Route::Verdict::kMatched) {
        const auto id = cg::parseRequestId(r.requestId);
        FUZZ_REQUIRE(id.has_value());
        FUZZ_REQUIRE(cg::formatRequestId(id->ns, id->channel, id->random) == r.requestId);
        FUZZ_REQUIRE(r.requestId.find_first_of("*> \t\r\n") == std::string::npos);
      }
      if (r.verdict == gw::Route::Verdict::kMatched) {
        FUZZ_REQUIRE(method == "GET" || method == "HEAD" || method == "POST");
      } else {
        FUZZ_REQUIRE(r.allow == "POST" || r.allow == "GET, HEAD");
        const bool allowed =
            r.allow == "POST" ? method == "POST" : (method == "GET" || method == "HEAD");
        FUZZ_REQUIRE(!allowed);
      }
      break;
    case gw::Route::Verdict::kNotFound:
    case gw::Route::Verdict::kBadName:
      FUZZ_REQUIRE(!r.problem.empty());
      break;
  }

  std::string problem;
  if (auto key = gw::parseIdempotencyKey(f[2], &problem)) {
    FUZZ_REQUIRE(!key->empty() && key->size() <= gw::kMaxIdempotencyKey);
    for (char c : *key)
      FUZZ_REQUIRE(c >= 0x21 && c <= 0x7e && c != '"' && c != '\\');
    std::string again;
    FUZZ_REQUIRE(gw::parseIdempotencyKey(*key, &again) == key);  // a key is its own form
  } else {
    FUZZ_REQUIRE(!problem.empty());
  }

  constexpr std::chrono::seconds kMax(60);
  if (auto wait = gw::preferWait(f[3], kMax)) FUZZ_REQUIRE(wait->count() >= 0 && *wait <= kMax);

  const std::string token = gw::bearerToken(f[4]);
  FUZZ_REQUIRE(!hasSpaceAtEnds(token));
  FUZZ_REQUIRE(token.size() + 7 <= f[4].size() || token.empty());

  for (std::string_view name : {"token", "lastEventId", ""}) {
    const std::string value = gw::queryParam(target, name);
    FUZZ_REQUIRE(value.find('&') == std::string::npos);
    FUZZ_REQUIRE(target.find(value) != std::string_view::npos);
  }

  if (auto n = gw::parseLastEventId(f[5])) {
    FUZZ_REQUIRE(gw::parseLastEventId(std::to_string(*n)) == n);
  }
  return 0;
}
