#include "common/report/report.hpp"

#include <cmath>
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/log/logger.hpp"
#include "common/nats/subject.hpp"
#include "common/util/json_text.hpp"

namespace osmosis::report {
namespace {

int digits(std::string_view s, size_t at, size_t n) {
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool dnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > kMaxPodName) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return true;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text) {
  // Exactly what log::formatTime writes: 2026-11-23T19:02:10.123Z. Years are bounded so the
  // conversion to the clock's int64 nanoseconds cannot overflow (a year 9999 report used to
  // kill the operator: issue 16, item 3).
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z')
    return std::nullopt;
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  const int ms = digits(text, 20, 3);
  if (year < kMinYear || year > kMaxYear || month < 1 || month > 12 || day < 1 || day > 31 ||
      hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60 || ms < 0)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t secs = timegm(&tm);
  if (tm.tm_mday != day) return std::nullopt;  // 31 February, normalised away by timegm
  return std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(ms);
}

Result<std::string> subjectFor(const std::string& ns, const std::string& channel,
                               const std::string& prefix) {
  if (auto why = nats::tokenProblem(ns))
    return makeError(Error::Code::kInvalidArgument, "namespace: " + *why);
  if (auto why = nats::tokenProblem(channel))
    return makeError(Error::Code::kInvalidArgument, "channel: " + *why);
  if (auto why = nats::subjectProblem(prefix, nats::Wildcards::kForbidden))
    return makeError(Error::Code::kInvalidArgument, "report subject prefix: " + *why);
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
  if (text.size() > kMaxReportBytes)
    return bad("larger than " + std::to_string(kMaxReportBytes) + " bytes");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  Report r;
  auto str = [&](const char* key, std::string* out, bool required) -> bool {
    auto it = j.find(key);
    if (it == j.end()) return !required;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    // (The error text is cut below instead: the whole report is bounded anyway.)
    return (!required || !out->empty()) &&
           (out->size() <= kMaxStringField || std::string_view(key) == "error");
  };
  auto num = [&](const char* key, auto* out) -> bool {
    auto it = j.find(key);
    using T = std::remove_pointer_t<decltype(out)>;
    if (it == j.end() || !it->is_number()) return false;
    if constexpr (std::is_floating_point_v<T>) {
      *out = it->get<T>();
      return std::isfinite(*out) && *out >= 0 && *out <= kMaxFigure;
    } else {
      // Non-negative integers only, and no larger than any real count (2^53: exact in JSON).
      if (!it->is_number_unsigned() || it->get<uint64_t>() > kMaxFigure) return false;
      *out = static_cast<T>(it->get<uint64_t>());
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
  if (auto why = nats::tokenProblem(r.namespace_)) return bad("namespace: " + *why);
  if (auto why = nats::tokenProblem(r.channel)) return bad("channel: " + *why);
  if (!dnsSubdomain(r.pod)) return bad("pod must be a pod name (lowercase DNS subdomain)");
  if (!r.mode.empty() && r.mode != "dispatch" && r.mode != "report")
    return bad("mode must be dispatch or report");
  r.version = printableText(r.version, 64);
  r.error = printableText(r.error, 1024);
  if (!num("processed", &r.processed) || !num("failed", &r.failed) ||
      !num("inFlight", &r.inFlight) || !num("rate", &r.rate) || !num("sequence", &r.sequence))
    return bad("processed, failed, inFlight, rate and sequence must be non-negative numbers");
  if (j.contains("concurrency") && !num("concurrency", &r.concurrency))
    return bad("concurrency must be a non-negative integer");
  if (j.contains("busyFraction") && (!num("busyFraction", &r.busyFraction) || r.busyFraction > 1))
    return bad("busyFraction must be a number within 0..1");
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
  auto when = parseTime(time);
  if (!when)
    return bad("time \"" + printableText(time, 64) +
               "\" is not RFC 3339 UTC with milliseconds (2026-01-02T15:04:05.000Z) between " +
               std::to_string(kMinYear) + " and " + std::to_string(kMaxYear));
  r.time = *when;
  return r;
}

}  // namespace osmosis::report
