#include "operator/api/parsed_cache.hpp"

namespace osmosis::api {

std::shared_ptr<const ParsedChannel> ParsedChannels::get(const nlohmann::json& channel) {
  const nlohmann::json md = channel.contains("metadata") && channel["metadata"].is_object()
                                ? channel["metadata"]
                                : nlohmann::json::object();
  const std::string key = md.value("namespace", "") + "/" + md.value("name", "");
  const std::string rv = md.value("resourceVersion", "");
  if (!rv.empty()) {
    std::lock_guard lock(mu_);
    if (auto it = byKey_.find(key); it != byKey_.end() && it->second.first == rv)
      return it->second.second;
  }
  auto parsed = std::make_shared<const ParsedChannel>(parseChannel(channel));
  if (!rv.empty()) {
    std::lock_guard lock(mu_);
    byKey_[key] = {rv, parsed};
  }
  return parsed;
}

void ParsedChannels::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  byKey_.erase(key);
}

size_t ParsedChannels::size() const {
  std::lock_guard lock(mu_);
  return byKey_.size();
}

}  // namespace osmosis::api
