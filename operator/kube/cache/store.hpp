#pragma once

// The informer's cache: objects by "namespace/name", with a namespace index. Objects are
// shared immutable snapshots, so readers never copy and never see a half-applied update.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osmosis::kube {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

struct Delta {
  enum class Type { kAdded, kUpdated, kDeleted };
  Type type;
  ObjectPtr oldObject;  // updated, deleted
  ObjectPtr object;     // added, updated
};

// What readers of a cache see (client-go's lister side): one Store, or several seen as one
// (multi_namespace_store.hpp). Readers hold this, so they never care how many informers
// fill it.
class StoreReader {
 public:
  virtual ~StoreReader() = default;
  virtual ObjectPtr get(const std::string& key) const = 0;
  virtual std::vector<ObjectPtr> list() const = 0;
  virtual std::vector<ObjectPtr> listNamespace(const std::string& ns) const = 0;
  virtual size_t size() const = 0;
  // Never goes down, and moves on every applied change: equal revisions mean equal contents,
  // so a reader can keep what it derived from the whole store until this moves (read it before
  // list()).
  virtual uint64_t revision() const = 0;
};

class Store final : public StoreReader {
 public:
  ObjectPtr get(const std::string& key) const override;
  std::vector<ObjectPtr> list() const override;
  std::vector<ObjectPtr> listNamespace(const std::string& ns) const override;
  size_t size() const override;
  uint64_t revision() const override;

  // Applies one change and says what it was (nullopt when nothing changed).
  std::optional<Delta> upsert(nlohmann::json object);
  std::optional<Delta> erase(const nlohmann::json& object);
  // Replaces everything with a fresh list, returning the adds, updates and deletes that make
  // the old contents into the new (so handlers see deletes that happened while not watching).
  std::vector<Delta> replace(std::vector<nlohmann::json> objects);

 private:
  void indexAdd(const std::string& key, const ObjectPtr& obj);
  void indexRemove(const std::string& key, const ObjectPtr& obj);
  mutable std::mutex mu_;
  std::map<std::string, ObjectPtr> items_;
  std::map<std::string, std::set<std::string>> byNamespace_;
  uint64_t revision_ = 0;
};

}  // namespace osmosis::kube
