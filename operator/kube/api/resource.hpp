#pragma once

// Which API resource a request is about, and the URL path for it.

#include <map>
#include <optional>
#include <string>

namespace osmosis::kube {

struct Resource {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;  // e.g. "deployments"
  std::string kind;    // e.g. "Deployment"
  bool namespaced = true;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
};

// The resources Osmosis uses, without a discovery round trip.
namespace resources {
Resource namespaces();
Resource configMaps();
Resource secrets();
Resource events();
Resource pods();
Resource serviceAccounts();
Resource deployments();
Resource statefulSets();
Resource leases();
Resource customResourceDefinitions();
Resource horizontalPodAutoscalers();
Resource channels();
}  // namespace resources

// Well-known apiVersion+kind -> resource; nullopt when discovery is needed.
std::optional<Resource> knownResource(const std::string& apiVersion, const std::string& kind);

// Pure path building: /api/v1/namespaces/ns/configmaps/name/status and the like.
// An empty namespace on a namespaced resource means "all namespaces" (for list and watch).
std::string resourcePath(const Resource& r, const std::string& ns, const std::string& name = "",
                         const std::string& subresource = "");

// "?a=b&c=d", values percent-encoded; empty values are left out.
std::string queryString(const std::map<std::string, std::string>& params);
std::string percentEncode(const std::string& s);

}  // namespace osmosis::kube
