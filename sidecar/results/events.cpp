#include "sidecar/results/events.hpp"

#include <algorithm>
#include <strings.h>

#include <nlohmann/json.hpp>

#include "common/contract/gateway_contract.hpp"
#include "common/util/base64.hpp"

namespace osmosis::sidecar::results {
namespace gw = contract::gateway;
using nlohmann::json;

namespace {

// Invalid UTF-8 in an app's header or a reason must not throw out of dump(): replaced.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  });
  return out;
}

// RFC 9110 7.6.1: about one connection, not the answer (and the body's framing is gone by now).
bool hopByHop(const std::string& name) {
  static const char* const kNames[] = {
      "connection", "keep-alive", "transfer-encoding", "content-length",
      "te",         "trailer",    "upgrade",           "proxy-connection"};
  for (const char* n : kNames)
    if (name == n) return true;
  return false;
}

json headersObject(const AppAnswer& answer) {
  json out = json::object();
  for (const auto& [name, value] : answer.headers) {
    std::string key = lower(name);
    if (hopByHop(key)) continue;
    auto it = out.find(key);
    if (it == out.end()) {
      out[key] = value;
    } else {
      *it = it->get<std::string>() + ", " + value;
    }
  }
  return out;
}

json resultBase(const AppAnswer& answer) {
  return json{
      {"type", gw::kEventResult}, {"status", answer.status}, {"headers", headersObject(answer)}};
}

}  // namespace

const char* verdictName(RequestIdCheck::Verdict verdict) {
  switch (verdict) {
    case RequestIdCheck::Verdict::kAbsent:
      return "absent";
    case RequestIdCheck::Verdict::kOurs:
      return "ours";
    case RequestIdCheck::Verdict::kMalformed:
      return "malformed";
    case RequestIdCheck::Verdict::kForeign:
      return "another channel's";
  }
  return "?";
}

RequestIdCheck checkRequestId(const nats::Headers& headers, const std::string& ns,
                              const std::string& channel) {
  RequestIdCheck out;
  for (const auto& [name, value] : headers) {
    if (::strcasecmp(name.c_str(), gw::kHeaderRequestId) != 0) continue;
    if (out.verdict != RequestIdCheck::Verdict::kAbsent && value != out.id) {
      // Two different ids: which one the gateway meant is unknown.
      out.verdict = RequestIdCheck::Verdict::kMalformed;
      return out;
    }
    out.id = value;
    auto parsed = gw::parseRequestId(value);
    if (!parsed) {
      out.verdict = RequestIdCheck::Verdict::kMalformed;
      return out;
    }
    out.verdict = parsed->ns == ns && parsed->channel == channel
                      ? RequestIdCheck::Verdict::kOurs
                      : RequestIdCheck::Verdict::kForeign;
  }
  return out;
}

std::string deliveredEvent(uint64_t attempt, const std::string& pod) {
  return dump(json{{"type", gw::kEventDelivered}, {"attempt", attempt}, {"pod", pod}});
}

std::string retryEvent(uint64_t attempt, int64_t delayMs, const std::string& reason) {
  return dump(json{
      {"type", gw::kEventRetry}, {"attempt", attempt}, {"delayMs", delayMs}, {"reason", reason}});
}

std::string omittedBecause(uint64_t bytes, uint64_t limit) {
  return std::to_string(bytes) + " bytes over the " + std::to_string(limit) + " limit";
}

std::string resultEvent(const AppAnswer& answer, uint64_t limit) {
  if (!answer.bodyKept || answer.bodyBytes > limit || answer.body.size() > limit)
    return resultEventWithoutBody(answer, omittedBecause(answer.bodyBytes, limit));
  json j = resultBase(answer);
  if (validUtf8(answer.body)) {
    j["body"] = answer.body;
    j["bodyEncoding"] = "utf-8";
  } else {
    j["body"] = base64Encode(answer.body);
    j["bodyEncoding"] = "base64";
  }
  return dump(j);
}

std::string resultEventWithoutBody(const AppAnswer& answer, const std::string& why) {
  json j = resultBase(answer);
  j["body"] = "";
  j["bodyEncoding"] = "utf-8";
  j["bodyOmitted"] = why;
  return dump(j);
}

std::string failedEvent(std::optional<int> status, const std::string& reason, bool deadLettered) {
  return dump(json{{"type", gw::kEventFailed},
                   {"status", status ? json(*status) : json(nullptr)},
                   {"reason", reason},
                   {"deadLettered", deadLettered}});
}

Result<std::string> progressEvent(std::string_view contentType, std::string_view body) {
  std::string type = lower(contentType.substr(0, contentType.find(';')));
  while (!type.empty() && type.back() == ' ')
    type.pop_back();
  const bool isJson = type == "application/json" ||
                      (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
  json data;
  if (isJson) {
    data = json::parse(body, nullptr, false);
    if (data.is_discarded())
      return makeError(Error::Code::kInvalidArgument, "the body is not valid JSON");
  } else {
    if (!validUtf8(body))
      return makeError(Error::Code::kInvalidArgument,
                       "the body is not UTF-8 text (send JSON with Content-Type: "
                       "application/json)");
    data = std::string(body);
  }
  return dump(json{{"type", gw::kEventProgress}, {"data", data}});
}

bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 (RFC 3629).
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

}  // namespace osmosis::sidecar::results
