#pragma once

// An in-memory stand-in for the Kubernetes API behind kube::Transport, for unit tests of the
// controllers: objects by path, get/list (label selectors of key=value pairs), create, delete,
// merge and apply patches (both merged; apply records its field manager), the scale
// subresource of Deployments, /version. Every request is recorded for assertions. Not an API
// server: integration tests use a real one (hack/control-plane.sh).

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "operator/kube/client/transport.hpp"

namespace osmosis::testing {

class FakeApiServer final : public kube::Transport {
 public:
  Result<kube::HttpResponse> send(const kube::HttpRequest& request) override;
  Result<kube::HttpResponse> stream(const kube::HttpRequest& request,
                                    const std::function<bool(std::string_view)>& onChunk,
                                    kube::StopSource& stop) override;

  // Puts an object (its path from apiVersion, kind, namespace and name).
  void put(nlohmann::json object);
  // The object at apiVersion/kind/ns/name, or null.
  nlohmann::json get(const std::string& apiVersion, const std::string& kind, const std::string& ns,
                     const std::string& name) const;
  void remove(const std::string& apiVersion, const std::string& kind, const std::string& ns,
              const std::string& name);

  // Requests seen, "METHOD path?query", with their bodies.
  std::vector<kube::HttpRequest> requests() const;
  // How many requests matched `method` and contained `pathPart`.
  int count(const std::string& method, const std::string& pathPart) const;

  bool unavailable = false;  // every request fails as if the server were away

 private:
  kube::HttpResponse handle(const kube::HttpRequest& request);

  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> objects_;  // by path
  std::vector<kube::HttpRequest> requests_;
  int64_t resourceVersion_ = 1;
};

// Object path for apiVersion/kind (a small table of the kinds tests use).
std::string objectPath(const std::string& apiVersion, const std::string& kind,
                       const std::string& ns, const std::string& name);

}  // namespace osmosis::testing
