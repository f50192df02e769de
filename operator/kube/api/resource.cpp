#include "operator/kube/api/resource.hpp"

#include <cctype>
#include <cstdio>

namespace osmosis::kube {

namespace resources {
Resource namespaces() {
  return {"", "v1", "namespaces", "Namespace", false};
}
Resource configMaps() {
  return {"", "v1", "configmaps", "ConfigMap", true};
}
Resource secrets() {
  return {"", "v1", "secrets", "Secret", true};
}
Resource events() {
  return {"", "v1", "events", "Event", true};
}
Resource pods() {
  return {"", "v1", "pods", "Pod", true};
}
Resource serviceAccounts() {
  return {"", "v1", "serviceaccounts", "ServiceAccount", true};
}
Resource deployments() {
  return {"apps", "v1", "deployments", "Deployment", true};
}
Resource statefulSets() {
  return {"apps", "v1", "statefulsets", "StatefulSet", true};
}
Resource leases() {
  return {"coordination.k8s.io", "v1", "leases", "Lease", true};
}
Resource customResourceDefinitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          false};
}
Resource horizontalPodAutoscalers() {
  return {"autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true};
}
Resource channels() {
  return {"osmosis.dev", "v1alpha1", "channels", "Channel", true};
}
}  // namespace resources

std::optional<Resource> knownResource(const std::string& apiVersion, const std::string& kind) {
  for (const Resource& r :
       {resources::namespaces(), resources::configMaps(), resources::secrets(), resources::events(),
        resources::serviceAccounts(), resources::deployments(), resources::statefulSets(),
        resources::leases(), resources::customResourceDefinitions(),
        resources::horizontalPodAutoscalers(), resources::channels()}) {
    if (r.apiVersion() == apiVersion && r.kind == kind) return r;
  }
  return std::nullopt;
}

std::string percentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string resourcePath(const Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource) {
  std::string path = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) path += "/namespaces/" + percentEncode(ns);
  path += "/" + r.plural;
  if (!name.empty()) path += "/" + percentEncode(name);
  if (!subresource.empty()) path += "/" + subresource;
  return path;
}

std::string queryString(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    out += (out.empty() ? "?" : "&") + percentEncode(k) + "=" + percentEncode(v);
  }
  return out;
}

}  // namespace osmosis::kube
