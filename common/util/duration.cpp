#include "common/util/duration.hpp"

#include <cctype>
#include <cstdint>
#include <limits>

namespace osmosis {
namespace {

constexpr int64_t kNs = 1;
constexpr int64_t kUs = 1000 * kNs;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kS = 1000 * kMs;
constexpr int64_t kM = 60 * kS;
constexpr int64_t kH = 60 * kM;

Error invalid(std::string_view text, std::string_view why) {
  return makeError(Error::Code::kInvalidArgument, "invalid duration \"" + std::string(text) +
                                                      "\": " + std::string(why) +
                                                      " (examples: 500ms, 30s, 1m30s, 24h)");
}

}  // namespace

Result<std::chrono::nanoseconds> parseDuration(std::string_view text) {
  if (text.empty()) return invalid(text, "empty");
  if (text == "0") return std::chrono::nanoseconds(0);
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    // Number, with an optional fraction ("1.5h").
    int64_t whole = 0;
    size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      const int digit = text[i] - '0';
      if (whole > (std::numeric_limits<int64_t>::max() - digit) / 10)
        return invalid(text, "too large");
      whole = whole * 10 + digit;
      ++i;
      ++digits;
    }
    double fraction = 0;
    if (i < text.size() && text[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        fraction += scale * (text[i] - '0');
        scale /= 10;
        ++i;
        ++digits;
      }
    }
    if (digits == 0) return invalid(text, "expected a number");
    size_t unitStart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
      ++i;
    std::string_view unit = text.substr(unitStart, i - unitStart);
    int64_t mult = 0;
    if (unit == "ns")
      mult = kNs;
    else if (unit == "us" || unit == "µs")
      mult = kUs;
    else if (unit == "ms")
      mult = kMs;
    else if (unit == "s")
      mult = kS;
    else if (unit == "m")
      mult = kM;
    else if (unit == "h")
      mult = kH;
    else if (unit.empty())
      return invalid(text, "missing unit");
    else
      return invalid(text, "unknown unit \"" + std::string(unit) + "\"");
    // Every step checked: whole * mult, + the fraction's nanoseconds, + the running total.
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    if (whole > kMax / mult) return invalid(text, "too large");
    const int64_t wholeNs = whole * mult;
    // fraction < 1, so its part is below mult and fits; floor keeps it exact for ns.
    const auto fractionNs = static_cast<int64_t>(fraction * static_cast<double>(mult));
    if (wholeNs > kMax - fractionNs) return invalid(text, "too large");
    const int64_t part = wholeNs + fractionNs;
    if (total > kMax - part) return invalid(text, "too large");
    total += part;
  }
  return std::chrono::nanoseconds(total);
}

Result<std::chrono::nanoseconds> parseDurationWithin(std::string_view text,
                                                     std::chrono::nanoseconds min,
                                                     std::chrono::nanoseconds max) {
  auto d = parseDuration(text);
  if (!d) return d;
  if (d.value() < min) return invalid(text, "shorter than the minimum " + formatDuration(min));
  if (d.value() > max) return invalid(text, "longer than the maximum " + formatDuration(max));
  return d;
}

std::string formatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  if (ns < 0) ns = -ns;
  if (ns < kUs) return sign + std::to_string(ns) + "ns";
  if (ns < kMs && ns % kUs == 0) return sign + std::to_string(ns / kUs) + "us";
  if (ns < kS && ns % kMs == 0) return sign + std::to_string(ns / kMs) + "ms";
  if (ns % kS != 0) {
    if (ns % kMs == 0) return sign + std::to_string(ns / kMs) + "ms";
    return sign + std::to_string(ns) + "ns";
  }
  std::string out = sign;
  int64_t h = ns / kH, m = (ns % kH) / kM, s = (ns % kM) / kS;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s) out += std::to_string(s) + "s";
  return out;
}

}  // namespace osmosis
