#include "operator/autoscaler/hpa_lists.hpp"

#include "operator/kube/api/resource.hpp"

namespace osmosis::autoscaler {

Result<std::shared_ptr<const nlohmann::json>> HpaLists::get(const std::string& ns) {
  const auto now = clock_.now();
  {
    std::lock_guard lock(mu_);
    if (auto it = byNamespace_.find(ns);
        it != byNamespace_.end() && now - it->second.listedAt < maxAge_)
      return it->second.list;
  }
  auto listed = client_.get(kube::resources::horizontalPodAutoscalers(), ns, "");
  if (!listed) return listed.error();
  auto list = std::make_shared<const nlohmann::json>(std::move(listed.value()));
  std::lock_guard lock(mu_);
  byNamespace_[ns] = Entry{list, now};
  return list;
}

}  // namespace osmosis::autoscaler
