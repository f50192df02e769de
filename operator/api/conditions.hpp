#pragma once

// Status conditions (metav1.Condition shape), pure: setting one keeps its lastTransitionTime
// unless its status changes, and stamps the generation it was computed from.

#include <string>

#include <nlohmann/json.hpp>

namespace osmosis::api {

struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;  // CamelCase
  std::string message;
  int64_t observedGeneration = 0;
};

// Returns `conditions` (a JSON array, possibly null) with `c` set.
nlohmann::json setCondition(const nlohmann::json& conditions, const Condition& c,
                            const std::string& now);

// The condition of that type, or a null JSON.
nlohmann::json findCondition(const nlohmann::json& conditions, const std::string& type);

}  // namespace osmosis::api
