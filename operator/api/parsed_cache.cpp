#include "operator/api/parsed_cache.hpp"

namespace osmosis::api {

std::shared_ptr<const ParsedChannel> ParsedChannels::get(const nlohmann::json& channel) {
  // (A pointer, not a copy: metadata carries managedFields, and this runs every evaluation.)
  const auto found = channel.is_object() ? channel.find("metadata") : channel.end();
  const nlohmann::json* md = found != channel.end() && found->is_object() ? &*found : nullptr;
  auto text = [md](const char* k) {  // (json::value would throw on another type)
    if (md == nullptr) return std::string();
    auto it = md->find(k);
    return it != md->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string key = text("namespace") + "/" + text("name");
  const std::string rv = text("resourceVersion");
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
