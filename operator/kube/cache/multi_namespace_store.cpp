#include "operator/kube/cache/multi_namespace_store.hpp"

#include <stdexcept>

namespace osmosis::kube {

MultiNamespaceStore::MultiNamespaceStore(std::vector<const StoreReader*> parts)
    : parts_(std::move(parts)) {
  for (const auto* p : parts_)
    if (p == nullptr) throw std::invalid_argument("MultiNamespaceStore: a null part");
}

ObjectPtr MultiNamespaceStore::get(const std::string& key) const {
  for (const auto* p : parts_)
    if (auto obj = p->get(key)) return obj;
  return nullptr;
}

std::vector<ObjectPtr> MultiNamespaceStore::list() const {
  std::vector<ObjectPtr> out;
  for (const auto* p : parts_) {
    auto part = p->list();
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<ObjectPtr> MultiNamespaceStore::listNamespace(const std::string& ns) const {
  std::vector<ObjectPtr> out;
  for (const auto* p : parts_) {
    auto part = p->listNamespace(ns);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

size_t MultiNamespaceStore::size() const {
  size_t n = 0;
  for (const auto* p : parts_)
    n += p->size();
  return n;
}

uint64_t MultiNamespaceStore::revision() const {
  uint64_t sum = 0;
  for (const auto* p : parts_)
    sum += p->revision();
  return sum;
}

}  // namespace osmosis::kube
