#pragma once

// Channels parsed once per object version. The Channel controller (for itself and for the
// subject check over every other Channel) and the autoscaler read a Channel's ParsedChannel
// from here instead of parsing it again on every pass.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "operator/api/spec.hpp"

namespace osmosis::api {

class ParsedChannels {
 public:
  // The parse of this version of `channel` (namespace/name + resourceVersion).
  std::shared_ptr<const ParsedChannel> get(const nlohmann::json& channel);
  // The Channel is gone.
  void forget(const std::string& key);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::shared_ptr<const ParsedChannel>>> byKey_;
};

}  // namespace osmosis::api
