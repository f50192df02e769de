#pragma once

// Several namespaces' caches read as one, in the manner of controller-runtime's
// multiNamespaceCache: where RBAC allows list and watch only per namespace (Roles, no
// ClusterRole), there is one informer per namespace, and whoever needs "every object" (the
// subject-conflict check, the autoscaler, metrics) reads their union through this view.
//
// The parts must not overlap (each a different namespace): get() returns the first part's
// object, list() and size() add the parts up. revision() is the sum of the parts' revisions:
// each never goes down, so an equal sum read later means no part moved.

#include <vector>

#include "operator/kube/cache/store.hpp"

namespace osmosis::kube {

class MultiNamespaceStore final : public StoreReader {
 public:
  // The parts outlive this view (they are informers' stores, owned by the Manager).
  explicit MultiNamespaceStore(std::vector<const StoreReader*> parts);

  ObjectPtr get(const std::string& key) const override;
  std::vector<ObjectPtr> list() const override;
  std::vector<ObjectPtr> listNamespace(const std::string& ns) const override;
  size_t size() const override;
  uint64_t revision() const override;

 private:
  std::vector<const StoreReader*> parts_;
};

}  // namespace osmosis::kube
