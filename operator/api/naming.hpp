#pragma once

// Names on the NATS side, derived from the Channel's namespace and name so that they can
// never collide across namespaces: Kubernetes names are lowercase DNS labels (no '_' or
// '.'), so "<NAMESPACE>_<NAME>" upper-cased is one-to-one.

#include <string>
#include <vector>

namespace osmosis::api {

inline constexpr const char* kConsumerName = "workers";

// SHOP_ORDERS for shop/orders. Over-long names are shortened with a hash suffix.
std::string streamName(const std::string& ns, const std::string& name);

// "<namespace>.<name>.>"
std::vector<std::string> defaultSubjects(const std::string& ns, const std::string& name);

// The subject the sidecars report on: osmosis.report.<namespace>.<name>.
std::string reportSubject(const std::string& ns, const std::string& name);

}  // namespace osmosis::api
