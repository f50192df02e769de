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

// The stream holding the events of requests that came in through the gateway (issue 14):
// streamName + "_RESULTS", e.g. SHOP_ORDERS_RESULTS (at most 128 characters). It is never a
// Channel's own stream: namespaces and names are DNS labels without '_', so a Channel's stream
// name has one '_' (NS_NAME) or, when shortened, ends in '_' and 16 hex digits; this one has
// at least two '_' and ends in "_RESULTS", which is not hex.
std::string resultsStreamName(const std::string& ns, const std::string& name);

// Where osmosis-gateway takes POSTs for the Channel: /v1/namespaces/<ns>/channels/<name>/messages.
std::string gatewayPath(const std::string& ns, const std::string& name);

// "<namespace>.<name>.>"
std::vector<std::string> defaultSubjects(const std::string& ns, const std::string& name);

// The subject the sidecars report on: osmosis.report.<namespace>.<name>.
std::string reportSubject(const std::string& ns, const std::string& name);

}  // namespace osmosis::api
