#include "hack/sim/settings.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace osmosis::sim {
namespace {

using autoscaler::Policy;
using autoscaler::Tuning;

// One settable field: its name, whether it takes whole numbers only, and how it is set. The
// tables below are the only list of the names (the refusals print them from here).
template <typename T>
struct Field {
  std::string_view name;
  bool whole;
  void (*set)(T&, double);
};

std::chrono::seconds secs(double v) {
  return std::chrono::seconds(std::llround(v));
}

constexpr Field<Policy> kPolicyFields[] = {
    {"minReplicas", true, [](Policy& p, double v) { p.minReplicas = static_cast<int>(v); }},
    {"targetBacklogPerReplica", true,
     [](Policy& p, double v) { p.targetBacklogPerReplica = static_cast<int64_t>(v); }},
    {"targetDrainSeconds", true,
     [](Policy& p, double v) { p.targetDrainSeconds = static_cast<int>(v); }},
    {"activationBacklog", true,
     [](Policy& p, double v) { p.activationBacklog = static_cast<int64_t>(v); }},
    {"stabilizationSeconds", true,
     [](Policy& p, double v) { p.stabilizationSeconds = static_cast<int>(v); }},
    {"maxStepPercent", true, [](Policy& p, double v) { p.maxStepPercent = static_cast<int>(v); }},
    {"scaleToZeroAfterSeconds", true,
     [](Policy& p, double v) { p.scaleToZeroAfterSeconds = static_cast<int>(v); }},
    {"scaleDownStepSeconds", true,
     [](Policy& p, double v) { p.scaleDownStepSeconds = static_cast<int>(v); }},
    {"headroom", false, [](Policy& p, double v) { p.headroom = v; }},
};

// The Tuning fields issue 13 added; durations in seconds, switches as 0 or not.
constexpr Field<Tuning> kTuningFields[] = {
    {"arrivalRise", false, [](Tuning& t, double v) { t.arrivalRise = secs(v); }},
    {"arrivalFall", false, [](Tuning& t, double v) { t.arrivalFall = secs(v); }},
    {"arrivalSustained", false, [](Tuning& t, double v) { t.arrivalSustained = secs(v); }},
    {"arrivalSurge", false, [](Tuning& t, double v) { t.arrivalSurge = v; }},
    {"arrivalFromReports", false, [](Tuning& t, double v) { t.arrivalFromReports = v != 0; }},
    {"startupGrace", false, [](Tuning& t, double v) { t.startupGrace = secs(v); }},
    {"scaleDownTolerance", false, [](Tuning& t, double v) { t.scaleDownTolerance = v; }},
    {"minScaleDownStepShare", false, [](Tuning& t, double v) { t.minScaleDownStepShare = v; }},
    {"steadyWindow", false, [](Tuning& t, double v) { t.steadyWindow = v != 0; }},
    {"windowSustained", false, [](Tuning& t, double v) { t.windowSustained = v != 0; }},
    {"lagStartupStep", false, [](Tuning& t, double v) { t.lagStartupStep = v; }},
    {"throughputForgetAfter", false,
     [](Tuning& t, double v) { t.throughputForgetAfter = secs(v); }},
    {"idleWindowRelease", false, [](Tuning& t, double v) { t.idleWindowRelease = secs(v); }},
    {"consumerThroughput", false, [](Tuning& t, double v) { t.consumerThroughput = v != 0; }},
};

template <typename T, size_t N>
const Field<T>* find(const Field<T> (&fields)[N], const std::string& key) {
  const auto* it = std::find_if(std::begin(fields), std::end(fields),
                                [&](const Field<T>& f) { return f.name == key; });
  return it == std::end(fields) ? nullptr : it;
}

template <typename T, size_t N>
std::string names(const Field<T> (&fields)[N]) {
  std::string out;
  for (const Field<T>& f : fields)
    out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

// Sets `field` from `value`, then lets the engine's own bounds check the whole struct.
template <typename T>
Status apply(const Field<T>& field, T& target, const std::string& value) {
  const std::string key(field.name);
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(v))
    return makeError(Error::Code::kInvalidArgument, key + "=" + value + ": not a number");
  if (field.whole && (v != std::floor(v) || std::fabs(v) > 1e9))
    return makeError(Error::Code::kInvalidArgument, key + "=" + value + ": not a whole number");
  field.set(target, v);
  return autoscaler::validate(target);
}

bool variantNameOk(const std::string& name) {
  return !name.empty() && name.size() <= 24 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

std::vector<std::string> splitList(const std::string& list) {
  std::vector<std::string> items;
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    items.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

Status applyTuning(Tuning& t, const std::string& key, const std::string& value) {
  const Field<Tuning>* field = find(kTuningFields, key);
  if (!field)
    return makeError(Error::Code::kInvalidArgument,
                     "unknown tuning " + key + " (" + names(kTuningFields) + ")");
  return apply(*field, t, value);
}

Status applyPolicy(Policy& p, const std::string& key, const std::string& value) {
  const Field<Policy>* field = find(kPolicyFields, key);
  if (!field)
    return makeError(Error::Code::kInvalidArgument,
                     "unknown policy " + key + " (" + names(kPolicyFields) + ")");
  return apply(*field, p, value);
}

Result<Variant> parseVariant(const std::string& text, const Policy& base,
                             const Tuning& baseTuning) {
  const auto bad = [&](const std::string& why) {
    return makeError(Error::Code::kInvalidArgument, "variant " + text + ": " + why);
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return bad("expected NAME:key=value[,key=value...]");
  Variant v{text.substr(0, colon), base, baseTuning};
  if (!variantNameOk(v.name)) return bad("the name must be 1-24 of a-z, 0-9 and -");
  const std::string list = text.substr(colon + 1);
  if (list.empty()) return bad("no setting after the name");
  for (const std::string& item : splitList(list)) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return bad("expected key=value, got \"" + item + "\"");
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    Status s;
    if (const Field<Policy>* policyField = find(kPolicyFields, key))
      s = apply(*policyField, v.policy, value);
    else if (const Field<Tuning>* tuningField = find(kTuningFields, key))
      s = apply(*tuningField, v.tuning, value);
    else
      return bad("unknown setting " + key + ": policy (" + names(kPolicyFields) + ") or tuning (" +
                 names(kTuningFields) + ")");
    if (!s) return bad(s.error().message);
  }
  return v;
}

}  // namespace osmosis::sim
