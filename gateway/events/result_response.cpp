#include "gateway/events/result_response.hpp"

#include <nlohmann/json.hpp>

#include "common/contract/gateway_contract.hpp"
#include "common/util/base64.hpp"
#include "common/util/json_text.hpp"
#include "gateway/events/event_format.hpp"

namespace osmosis::gateway {
namespace {

// RFC 9110 5.1: a field name is a token. Names are written to the client as they are.
bool httpToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<http::Response> resultResponse(const nats::StoredMessage& m) {
  const Event e = toEvent(m);
  if (!e.final) return std::nullopt;
  auto data = nlohmann::json::parse(m.data, nullptr, false);
  if (!data.is_object()) data = nlohmann::json::object();
  if (e.type == contract::gateway::kEventFailed) {
    return http::Response{
        502,
        "application/json",
        dumpJson({{"error", "the worker did not process the request"}, {"failure", data}}) + "\n",
        {}};
  }
  // Fields of another type than the contract's are read as absent (value() would throw).
  auto text = [&](const char* key, const char* absent) {
    auto it = data.find(key);
    return it != data.end() && it->is_string() ? it->get<std::string>() : std::string(absent);
  };
  http::Response r;
  const auto s = data.find("status");
  const int64_t status = s != data.end() && s->is_number_integer() ? s->get<int64_t>() : 200;
  r.status = (status >= 200 && status <= 299) ? static_cast<int>(status) : 200;
  r.contentType = "application/octet-stream";
  if (auto h = data.find("headers"); h != data.end() && h->is_object()) {
    for (auto& [k, v] : h->items()) {
      if (!v.is_string()) continue;
      if (k == "content-type")
        r.contentType = v.get<std::string>();
      else if (k.rfind("x-", 0) == 0 && httpToken(k))  // the worker's own; never hop-by-hop
        r.headers.emplace_back(k, v.get<std::string>());
    }
  }
  std::string body = text("body", "");
  if (text("bodyEncoding", "utf-8") == "base64") {
    auto decoded = base64Decode(body);
    if (!decoded)
      return http::Response{502,
                            "application/json",
                            "{\"error\":\"the stored result's body is not valid base64\"}\n",
                            {}};
    body = std::move(*decoded);
  }
  r.body = std::move(body);
  return r;
}

}  // namespace osmosis::gateway
