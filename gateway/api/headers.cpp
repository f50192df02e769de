#include "gateway/api/headers.hpp"

#include <charconv>
#include <cstdint>
#include <strings.h>

#include "common/util/text.hpp"

namespace osmosis::gateway {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<std::string> parseIdempotencyKey(std::string_view value, std::string* problem) {
  std::string_view v = trimBlanks(value);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty()) {
    *problem = "Idempotency-Key is empty";
    return std::nullopt;
  }
  if (v.size() > kMaxIdempotencyKey) {
    *problem = "Idempotency-Key is longer than 255 characters";
    return std::nullopt;
  }
  for (char c : v) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
      *problem = "Idempotency-Key may hold visible ASCII characters only (no spaces or quotes)";
      return std::nullopt;
    }
  }
  return std::string(v);
}

std::optional<std::chrono::seconds> preferWait(std::string_view value, std::chrono::seconds max) {
  // Preferences are comma-separated; parameters after ';' are not ours.
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = trimBlanks(value.substr(0, comma));
    item = trimBlanks(item.substr(0, item.find(';')));
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos && iequals(trimBlanks(item.substr(0, eq)), "wait")) {
      std::string_view n = trimBlanks(item.substr(eq + 1));
      if (n.size() >= 2 && n.front() == '"' && n.back() == '"') n = n.substr(1, n.size() - 2);
      int64_t seconds = -1;
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), seconds);
      if (ec != std::errc() || p != n.data() + n.size() || seconds < 0) return std::nullopt;
      return std::min(std::chrono::seconds(seconds), max);
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

std::string bearerToken(std::string_view authorization) {
  std::string_view v = trimBlanks(authorization);
  if (v.size() < 7 || !iequals(v.substr(0, 7), "Bearer ")) return "";
  return std::string(trimBlanks(v.substr(7)));
}

std::string queryParam(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return "";
}

std::optional<uint64_t> parseLastEventId(std::string_view value) {
  value = trimBlanks(value);
  if (value.empty()) return std::nullopt;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || p != value.data() + value.size()) return std::nullopt;
  return n;
}

}  // namespace osmosis::gateway
