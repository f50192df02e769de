#include "hack/sim/settings.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <type_traits>

namespace osmosis::sim {
namespace {

constexpr std::array<std::string_view, 9> kPolicyKeys = {"minReplicas",
                                                         "targetBacklogPerReplica",
                                                         "targetDrainSeconds",
                                                         "activationBacklog",
                                                         "stabilizationSeconds",
                                                         "maxStepPercent",
                                                         "scaleToZeroAfterSeconds",
                                                         "scaleDownStepSeconds",
                                                         "headroom"};

constexpr std::array<std::string_view, 14> kTuningKeys = {
    "arrivalRise",        "arrivalFall",       "arrivalSustained",   "arrivalSurge",
    "arrivalFromReports", "startupGrace",      "scaleDownTolerance", "minScaleDownStepShare",
    "steadyWindow",       "windowSustained",   "lagStartupStep",     "throughputForgetAfter",
    "idleWindowRelease",  "consumerThroughput"};

bool listed(const auto& names, const std::string& key) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

std::string joined(const auto& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

Result<double> number(const std::string& key, const std::string& value) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(v))
    return makeError(Error::Code::kInvalidArgument, key + "=" + value + ": not a number");
  return v;
}

bool variantNameOk(const std::string& name) {
  return !name.empty() && name.size() <= 24 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

Status applyTuning(autoscaler::Tuning& t, const std::string& key, const std::string& value) {
  if (!listed(kTuningKeys, key))
    return makeError(Error::Code::kInvalidArgument,
                     "unknown tuning " + key + " (" + joined(kTuningKeys) + ")");
  auto parsed = number(key, value);
  if (!parsed) return parsed.error();
  const double v = *parsed;
  const auto secs = std::chrono::seconds(std::llround(v));
  if (key == "arrivalRise")
    t.arrivalRise = secs;
  else if (key == "arrivalFall")
    t.arrivalFall = secs;
  else if (key == "arrivalSustained")
    t.arrivalSustained = secs;
  else if (key == "arrivalSurge")
    t.arrivalSurge = v;
  else if (key == "arrivalFromReports")
    t.arrivalFromReports = v != 0;
  else if (key == "startupGrace")
    t.startupGrace = secs;
  else if (key == "scaleDownTolerance")
    t.scaleDownTolerance = v;
  else if (key == "minScaleDownStepShare")
    t.minScaleDownStepShare = v;
  else if (key == "steadyWindow")
    t.steadyWindow = v != 0;
  else if (key == "windowSustained")
    t.windowSustained = v != 0;
  else if (key == "lagStartupStep")
    t.lagStartupStep = v;
  else if (key == "idleWindowRelease")
    t.idleWindowRelease = secs;
  else if (key == "consumerThroughput")
    t.consumerThroughput = v != 0;
  else
    t.throughputForgetAfter = secs;
  return autoscaler::validate(t);
}

bool isPolicyKey(const std::string& key) {
  return listed(kPolicyKeys, key);
}

Status applyPolicy(autoscaler::Policy& p, const std::string& key, const std::string& value) {
  if (!isPolicyKey(key))
    return makeError(Error::Code::kInvalidArgument,
                     "unknown policy " + key + " (" + joined(kPolicyKeys) + ")");
  auto parsed = number(key, value);
  if (!parsed) return parsed.error();
  const double v = *parsed;
  const auto whole = [&](auto& field) -> Status {
    if (v != std::floor(v) || std::fabs(v) > 1e9)
      return makeError(Error::Code::kInvalidArgument, key + "=" + value + ": not a whole number");
    field = static_cast<std::remove_reference_t<decltype(field)>>(v);
    return {};
  };
  Status s;
  if (key == "minReplicas")
    s = whole(p.minReplicas);
  else if (key == "targetBacklogPerReplica")
    s = whole(p.targetBacklogPerReplica);
  else if (key == "targetDrainSeconds")
    s = whole(p.targetDrainSeconds);
  else if (key == "activationBacklog")
    s = whole(p.activationBacklog);
  else if (key == "stabilizationSeconds")
    s = whole(p.stabilizationSeconds);
  else if (key == "maxStepPercent")
    s = whole(p.maxStepPercent);
  else if (key == "scaleToZeroAfterSeconds")
    s = whole(p.scaleToZeroAfterSeconds);
  else if (key == "scaleDownStepSeconds")
    s = whole(p.scaleDownStepSeconds);
  else
    p.headroom = v;
  if (!s) return s;
  return autoscaler::validate(p);
}

Result<Variant> parseVariant(const std::string& text, const autoscaler::Policy& base,
                             const autoscaler::Tuning& baseTuning) {
  const auto bad = [&](const std::string& why) {
    return makeError(Error::Code::kInvalidArgument, "variant " + text + ": " + why);
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return bad("expected NAME:key=value[,key=value...]");
  Variant v{text.substr(0, colon), base, baseTuning};
  if (!variantNameOk(v.name)) return bad("the name must be 1-24 of a-z, 0-9 and -");
  const std::string list = text.substr(colon + 1);
  if (list.empty()) return bad("no setting after the name");
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return bad("expected key=value, got \"" + item + "\"");
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (!isPolicyKey(key) && !listed(kTuningKeys, key))
      return bad("unknown setting " + key + ": policy (" + joined(kPolicyKeys) + ") or tuning (" +
                 joined(kTuningKeys) + ")");
    const Status s =
        isPolicyKey(key) ? applyPolicy(v.policy, key, value) : applyTuning(v.tuning, key, value);
    if (!s) return bad(s.error().message);
    start = comma + 1;
  }
  return v;
}

}  // namespace osmosis::sim
