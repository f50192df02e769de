#include "common/report/report.hpp"

#include <nlohmann/json.hpp>

#include "common/log/logger.hpp"

namespace osmosis::report {
namespace {

bool validToken(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '.' || c == '*' || c == '>' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

std::chrono::system_clock::time_point parseTime(const std::string& text, bool* ok) {
  // RFC 3339 UTC as written by log::formatTime: 2026-11-23T19:02:10.123Z
  std::tm tm{};
  int ms = 0;
  *ok = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7;
  if (!*ok) return {};
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(ms);
}

}  // namespace

Result<std::string> subjectFor(const std::string& ns, const std::string& channel,
                               const std::string& prefix) {
  if (!validToken(ns))
    return makeError(Error::Code::kInvalidArgument,
                     "namespace \"" + ns + "\" cannot be a NATS subject token");
  if (!validToken(channel))
    return makeError(Error::Code::kInvalidArgument,
                     "channel \"" + channel + "\" cannot be a NATS subject token");
  if (prefix.empty() || prefix.front() == '.' || prefix.back() == '.' ||
      prefix.find_first_of("*> ") != std::string::npos)
    return makeError(Error::Code::kInvalidArgument,
                     "report subject prefix \"" + prefix + "\" is not a literal NATS subject");
  return prefix + "." + ns + "." + channel;
}

std::string toJson(const Report& r) {
  nlohmann::json j = {
      {"schemaVersion", r.schemaVersion},
      {"namespace", r.namespace_},
      {"channel", r.channel},
      {"pod", r.pod},
      {"mode", r.mode},
      {"stream", r.stream},
      {"consumer", r.consumer},
      {"processed", r.processed},
      {"failed", r.failed},
      {"rate", r.rate},
      {"busyFraction", r.busyFraction},
      {"inFlight", r.inFlight},
      {"concurrency", r.concurrency},
      {"ready", r.ready},
      {"final", r.final},
      {"sequence", r.sequence},
      {"time", log::formatTime(r.time)},
      {"version", r.version},
  };
  if (r.figures) {
    j["pending"] = r.figures->pending;
    j["ackPending"] = r.figures->ackPending;
    j["redelivered"] = r.figures->redelivered;
  } else {
    j["pending"] = nullptr;
    j["ackPending"] = nullptr;
    j["redelivered"] = nullptr;
  }
  if (!r.error.empty()) j["error"] = r.error;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Report> parse(std::string_view text) {
  auto bad = [](const std::string& why) {
    return makeError(Error::Code::kInvalidArgument, "malformed report: " + why);
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  Report r;
  auto str = [&](const char* key, std::string* out, bool required) -> bool {
    auto it = j.find(key);
    if (it == j.end()) return !required;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return !required || !out->empty();
  };
  auto num = [&](const char* key, auto* out) -> bool {
    auto it = j.find(key);
    using T = std::remove_pointer_t<decltype(out)>;
    if (it == j.end() || !it->is_number()) return false;
    if constexpr (std::is_floating_point_v<T>) {
      *out = it->get<T>();
      return *out >= 0;
    } else {
      if (it->is_number_float() ||
          (it->is_number_integer() && it->get<int64_t>() < 0 && !it->is_number_unsigned()))
        return false;
      *out = it->get<T>();
      return true;
    }
  };
  auto it = j.find("schemaVersion");
  if (it == j.end() || !it->is_number_integer()) return bad("schemaVersion missing");
  r.schemaVersion = it->get<int>();
  if (r.schemaVersion != kSchemaVersion)
    return bad("schemaVersion " + std::to_string(r.schemaVersion) + " is not supported (want " +
               std::to_string(kSchemaVersion) + ")");
  for (auto [key, out] : {std::pair{"namespace", &r.namespace_}, std::pair{"channel", &r.channel},
                          std::pair{"pod", &r.pod}, std::pair{"version", &r.version}}) {
    if (!str(key, out, true)) return bad(std::string(key) + " must be a non-empty string");
  }
  for (auto [key, out] : {std::pair{"mode", &r.mode}, std::pair{"stream", &r.stream},
                          std::pair{"consumer", &r.consumer}, std::pair{"error", &r.error}}) {
    if (!str(key, out, false)) return bad(std::string(key) + " must be a string");
  }
  if (!num("processed", &r.processed) || !num("failed", &r.failed) ||
      !num("inFlight", &r.inFlight) || !num("rate", &r.rate) || !num("sequence", &r.sequence))
    return bad("processed, failed, inFlight, rate and sequence must be non-negative numbers");
  if (j.contains("concurrency") && !num("concurrency", &r.concurrency))
    return bad("concurrency must be a non-negative integer");
  if (j.contains("busyFraction") && !num("busyFraction", &r.busyFraction))
    return bad("busyFraction must be a non-negative number");
  for (auto [key, out] : {std::pair{"ready", &r.ready}, std::pair{"final", &r.final}}) {
    auto b = j.find(key);
    if (b != j.end()) {
      if (!b->is_boolean()) return bad(std::string(key) + " must be a boolean");
      *out = b->get<bool>();
    }
  }
  auto pending = j.find("pending");
  if (pending != j.end() && !pending->is_null()) {
    ConsumerFigures f;
    if (!num("pending", &f.pending) || !num("ackPending", &f.ackPending) ||
        !num("redelivered", &f.redelivered))
      return bad("pending, ackPending and redelivered must be non-negative integers or null");
    r.figures = f;
  }
  std::string time;
  if (!str("time", &time, true)) return bad("time missing");
  bool ok = false;
  r.time = parseTime(time, &ok);
  if (!ok) return bad("time \"" + time + "\" is not RFC 3339 UTC (2006-01-02T15:04:05.000Z)");
  return r;
}

}  // namespace osmosis::report
