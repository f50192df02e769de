#include "gateway/api/routes.hpp"

#include <vector>

#include "common/contract/gateway_contract.hpp"

namespace osmosis::gateway {
namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

Route matched(Endpoint e, std::string_view method, const char* allowed) {
  Route r;
  r.endpoint = e;
  const bool get = std::string_view(allowed) == "GET";
  const bool ok = get ? (method == "GET" || method == "HEAD") : method == allowed;
  r.verdict = ok ? Route::Verdict::kMatched : Route::Verdict::kMethodNotAllowed;
  r.allow = get ? "GET, HEAD" : allowed;
  return r;
}

}  // namespace

Route route(std::string_view method, std::string_view path) {
  const auto s = segments(path);
  Route none;
  none.problem = "no such endpoint (see docs/gateway.md)";
  if (s.size() < 3 || s[0] != "v1") return none;

  if (s[1] == "namespaces" && s.size() == 6 && s[3] == "channels") {
    Route r;
    if (s[5] == "messages")
      r = matched(Endpoint::kPublish, method, "POST");
    else if (s[5] == "events")
      r = matched(Endpoint::kChannelEvents, method, "GET");
    else
      return none;
    r.ns = std::string(s[2]);
    r.channel = std::string(s[4]);
    if (!contract::gateway::isDnsLabel(r.ns) || !contract::gateway::isDnsLabel(r.channel)) {
      r.verdict = Route::Verdict::kBadName;
      r.problem = "namespace and channel must be Kubernetes names";
    }
    return r;
  }
  if (s[1] == "requests" && (s.size() == 3 || s.size() == 4)) {
    Route r;
    if (s.size() == 3)
      r = matched(Endpoint::kRequestStatus, method, "GET");
    else if (s[3] == "result")
      r = matched(Endpoint::kRequestResult, method, "GET");
    else if (s[3] == "events")
      r = matched(Endpoint::kRequestEvents, method, "GET");
    else
      return none;
    r.requestId = std::string(s[2]);
    if (!contract::gateway::parseRequestId(r.requestId)) {
      r.verdict = Route::Verdict::kBadName;
      r.problem = "not a request id (ids are <namespace>.<channel>.<32 hex>)";
    }
    return r;
  }
  return none;
}

}  // namespace osmosis::gateway
