#include "gateway/events/result_response.hpp"

#include <nlohmann/json.hpp>

#include "common/contract/gateway_contract.hpp"
#include "common/util/base64.hpp"
#include "common/util/json_text.hpp"
#include "gateway/events/event_format.hpp"

namespace osmosis::gateway {

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
  http::Response r;
  const auto status = data.value("status", 200);
  r.status = (status >= 200 && status <= 299) ? status : 200;
  r.contentType = "application/octet-stream";
  if (auto h = data.find("headers"); h != data.end() && h->is_object()) {
    for (auto& [k, v] : h->items()) {
      if (!v.is_string()) continue;
      if (k == "content-type")
        r.contentType = v.get<std::string>();
      else if (k.rfind("x-", 0) == 0)  // the worker's own headers; never hop-by-hop ones
        r.headers.emplace_back(k, v.get<std::string>());
    }
  }
  std::string body = data.value("body", "");
  if (data.value("bodyEncoding", "utf-8") == "base64") {
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
