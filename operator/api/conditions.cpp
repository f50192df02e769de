#include "operator/api/conditions.hpp"

#include "common/util/json_text.hpp"

namespace osmosis::api {

nlohmann::json setCondition(const nlohmann::json& conditions, const Condition& c,
                            const std::string& now) {
  nlohmann::json out = nlohmann::json::array();
  bool placed = false;
  nlohmann::json fresh = {{"type", c.type},
                          {"status", c.status},
                          {"reason", c.reason},
                          {"message", printableText(c.message, 4096)},
                          {"observedGeneration", c.observedGeneration},
                          {"lastTransitionTime", now}};
  if (conditions.is_array()) {
    for (const auto& existing : conditions) {
      if (existing.is_object() && existing.value("type", "") == c.type) {
        if (existing.value("status", "") == c.status && existing.contains("lastTransitionTime")) {
          fresh["lastTransitionTime"] = existing["lastTransitionTime"];
        }
        out.push_back(fresh);
        placed = true;
      } else {
        out.push_back(existing);
      }
    }
  }
  if (!placed) out.push_back(fresh);
  return out;
}

nlohmann::json findCondition(const nlohmann::json& conditions, const std::string& type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return c;
  }
  return nullptr;
}

}  // namespace osmosis::api
