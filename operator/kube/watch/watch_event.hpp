#pragma once

// One line of a watch stream: {"type": "ADDED", "object": {...}}.

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/util/result.hpp"

namespace osmosis::kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  nlohmann::json object;
};

// Pure. A malformed line is an InvalidArgument error (the reflector logs it and restarts the
// watch from the last good resourceVersion, as client-go does).
Result<WatchEvent> parseWatchEvent(std::string_view line);

const char* typeName(WatchEvent::Type type);

// metadata.resourceVersion, or "" when absent. Opaque: never parsed or compared.
std::string resourceVersionOf(const nlohmann::json& object);
// "namespace/name" or "name" for cluster-scoped objects: the cache key.
std::string keyOf(const nlohmann::json& object);

}  // namespace osmosis::kube
