#pragma once

// The simulator's what-ifs: the engine's tuning (--tune), a Channel's scaling policy and the
// operator's headroom (--policy), and named variants of osmosis-drain with some of either
// changed (--variant), so that choices can be compared side by side in one run.

#include <string>
#include <vector>

#include "common/util/result.hpp"
#include "operator/autoscaler/policy.hpp"

namespace osmosis::sim {

// "a,b,c" -> {"a", "b", "c"}; an empty item stays (the caller refuses it by name).
std::vector<std::string> splitList(const std::string& list);

// Sets one Tuning field by name (the fields issue 13 added); fails (kInvalidArgument) on an
// unknown name, a value that is not a number, or a tuning the engine refuses.
Status applyTuning(autoscaler::Tuning& tuning, const std::string& key, const std::string& value);

// Sets one Policy field by name: spec.scaling's fields, headroom and scaleDownStepSeconds;
// fails (kInvalidArgument) like applyTuning.
Status applyPolicy(autoscaler::Policy& policy, const std::string& key, const std::string& value);

// osmosis-drain under another name with some settings changed.
struct Variant {
  std::string name;
  autoscaler::Policy policy;
  autoscaler::Tuning tuning;
};

// "NAME:key=value[,key=value...]": `base` and `baseTuning` with each key set, a policy key by
// applyPolicy's, any other as applyTuning's. NAME is 1-24 of [a-z0-9-]; fails (kInvalidArgument)
// naming what is wrong.
Result<Variant> parseVariant(const std::string& text, const autoscaler::Policy& base,
                             const autoscaler::Tuning& baseTuning);

}  // namespace osmosis::sim
