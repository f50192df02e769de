#include "operator/kube/cache/store.hpp"

#include "operator/kube/watch/watch_event.hpp"

namespace osmosis::kube {
namespace {

std::string namespaceOf(const nlohmann::json& o) {
  const auto md = o.find("metadata");
  return md != o.end() && md->is_object() ? md->value("namespace", "") : "";
}

}  // namespace

ObjectPtr Store::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::list() const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_)
    out.push_back(v);
  return out;
}

std::vector<ObjectPtr> Store::listNamespace(const std::string& ns) const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  auto it = byNamespace_.find(ns);
  if (it == byNamespace_.end()) return out;
  for (const auto& key : it->second)
    out.push_back(items_.at(key));
  return out;
}

size_t Store::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

void Store::indexAdd(const std::string& key, const ObjectPtr& obj) {
  byNamespace_[namespaceOf(*obj)].insert(key);
}

void Store::indexRemove(const std::string& key, const ObjectPtr& obj) {
  auto it = byNamespace_.find(namespaceOf(*obj));
  if (it == byNamespace_.end()) return;
  it->second.erase(key);
  if (it->second.empty()) byNamespace_.erase(it);
}

uint64_t Store::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

std::optional<Delta> Store::upsert(nlohmann::json object) {
  std::string key = keyOf(object);
  if (key.empty()) return std::nullopt;
  auto obj = std::make_shared<const nlohmann::json>(std::move(object));
  std::lock_guard lock(mu_);
  ++revision_;
  auto it = items_.find(key);
  if (it == items_.end()) {
    items_.emplace(key, obj);
    indexAdd(key, obj);
    return Delta{Delta::Type::kAdded, nullptr, obj};
  }
  ObjectPtr old = it->second;
  it->second = obj;
  return Delta{Delta::Type::kUpdated, old, obj};
}

std::optional<Delta> Store::erase(const nlohmann::json& object) {
  std::string key = keyOf(object);
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  ObjectPtr old = it->second;
  indexRemove(key, old);
  items_.erase(it);
  ++revision_;
  return Delta{Delta::Type::kDeleted, old, nullptr};
}

std::vector<Delta> Store::replace(std::vector<nlohmann::json> objects) {
  std::map<std::string, ObjectPtr> fresh;
  for (auto& o : objects) {
    std::string key = keyOf(o);
    if (!key.empty()) fresh[key] = std::make_shared<const nlohmann::json>(std::move(o));
  }
  std::vector<Delta> deltas;
  std::lock_guard lock(mu_);
  for (const auto& [key, old] : items_) {
    if (!fresh.count(key)) deltas.push_back({Delta::Type::kDeleted, old, nullptr});
  }
  for (const auto& [key, obj] : fresh) {
    auto it = items_.find(key);
    if (it == items_.end()) {
      deltas.push_back({Delta::Type::kAdded, nullptr, obj});
    } else if (resourceVersionOf(*it->second) != resourceVersionOf(*obj)) {
      deltas.push_back({Delta::Type::kUpdated, it->second, obj});
    }
  }
  items_ = std::move(fresh);
  if (!deltas.empty()) ++revision_;
  byNamespace_.clear();
  for (const auto& [key, obj] : items_)
    indexAdd(key, obj);
  return deltas;
}

}  // namespace osmosis::kube
