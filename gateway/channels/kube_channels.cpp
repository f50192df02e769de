#include "gateway/channels/kube_channels.hpp"

#include "operator/kube/api/resource.hpp"
#include "operator/kube/config/rest_config.hpp"

namespace osmosis::gateway {

std::vector<std::string> secretTokens(const nlohmann::json& secret) {
  std::vector<std::string> out;
  auto data = secret.find("data");
  if (data == secret.end() || !data->is_object()) return out;
  for (const auto& [k, v] : data->items()) {
    if (!v.is_string()) continue;
    // (the decoder the operator uses for Secrets' data too)
    auto decoded = kube::base64Decode(v.get<std::string>());
    if (!decoded) continue;
    std::string token = std::move(decoded.value());
    if (!token.empty() && token.back() == '\n') token.pop_back();
    if (!token.empty()) out.push_back(std::move(token));
  }
  return out;
}

KubeChannels::KubeChannels(kube::Client& client, const std::vector<std::string>& namespaces)
    : client_(client) {
  if (namespaces.empty()) {
    informers_.push_back(std::make_unique<kube::Informer>(client, kube::resources::channels(), ""));
  } else {
    for (const auto& ns : namespaces)
      informers_.push_back(
          std::make_unique<kube::Informer>(client, kube::resources::channels(), ns));
  }
}

KubeChannels::~KubeChannels() {
  for (auto& i : informers_)
    i->stop();
}

void KubeChannels::start() {
  for (auto& i : informers_)
    i->start();
}

bool KubeChannels::ready() const {
  for (const auto& i : informers_)
    if (!i->hasSynced()) return false;
  return true;
}

std::optional<ChannelEntry> KubeChannels::find(const std::string& ns,
                                               const std::string& name) const {
  for (const auto& i : informers_) {
    if (!i->ns().empty() && i->ns() != ns) continue;
    auto obj = i->store().get(ns + "/" + name);
    if (!obj) continue;
    std::lock_guard lock(parsedMu_);
    auto& slot = parsed_[ns + "/" + name];
    if (slot.first != obj) slot = {obj, channelEntry(*obj)};
    return slot.second;
  }
  return std::nullopt;
}

Result<std::vector<std::string>> KubeChannels::tokens(const std::string& ns,
                                                      const std::string& secret) {
  const auto now = std::chrono::steady_clock::now();
  const std::string key = ns + "/" + secret;
  {
    std::lock_guard lock(mu_);
    auto it = secrets_.find(key);
    if (it != secrets_.end() && now - it->second.at < std::chrono::seconds(5))
      return it->second.tokens;
  }
  auto obj = client_.get(kube::resources::secrets(), ns, secret);
  if (!obj) return obj.error();
  auto tokens = secretTokens(obj.value());
  std::lock_guard lock(mu_);
  secrets_[key] = {tokens, now};
  return tokens;
}

}  // namespace osmosis::gateway
