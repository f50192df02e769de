#pragma once

// A Kubernetes REST client for any resource: get, list (paged), create, update, delete,
// patch (merge, JSON, server-side apply), the status and scale subresources, and watch.
// Client-side QPS/burst limits; retries with jittered backoff on 429, 5xx and connection
// errors (reads always; writes only when the server says it did not act: 429).

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/util/result.hpp"
#include "operator/kube/api/api_error.hpp"
#include "operator/kube/api/resource.hpp"
#include "operator/kube/client/transport.hpp"
#include "operator/kube/util/backoff.hpp"
#include "operator/kube/watch/watch_event.hpp"

namespace osmosis::kube {

using nlohmann::json;

struct ClientOptions {
  double qps = 50;
  int burst = 100;
  int maxRetries = 5;
  BackoffPolicy retryBackoff{std::chrono::milliseconds(100), 2.0, 0.5,
                             std::chrono::milliseconds(5000)};
};

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t limit = 0;  // 0: no paging
  std::string continueToken;
  std::string resourceVersion;
};

struct WatchOptions {
  std::string resourceVersion;
  std::string labelSelector;
  std::string fieldSelector;
  int timeoutSeconds = 0;
  bool allowBookmarks = true;
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

struct PatchOptions {
  std::string fieldManager;  // required for kApply
  bool force = false;        // kApply: take over conflicting fields
  std::string subresource;
};

struct DeleteOptions {
  std::string propagationPolicy;  // Foreground, Background, Orphan
  std::string preconditionResourceVersion;
};

// A full list: all pages' items and the list's resourceVersion (to watch from).
struct ListResult {
  std::vector<json> items;
  std::string resourceVersion;
};

class Client {
 public:
  Client(std::shared_ptr<Transport> transport, ClientOptions options = {},
         const Clock& clock = RealClock::instance());

  Result<json> get(const Resource& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "");
  Result<json> listPage(const Resource& r, const std::string& ns, const ListOptions& options = {});
  // Follows `continue` tokens; relists from scratch if a token expires (410) mid-way.
  Result<ListResult> list(const Resource& r, const std::string& ns, ListOptions options = {});
  Result<json> create(const Resource& r, const std::string& ns, const json& object);
  Result<json> update(const Resource& r, const std::string& ns, const json& object,
                      const std::string& subresource = "");
  Result<json> updateStatus(const Resource& r, const std::string& ns, const json& object) {
    return update(r, ns, object, "status");
  }
  Result<json> patch(const Resource& r, const std::string& ns, const std::string& name,
                     PatchType type, const json& patch, const PatchOptions& options = {});
  Status remove(const Resource& r, const std::string& ns, const std::string& name,
                const DeleteOptions& options = {});

  // The scale subresource (autoscaling/v1 Scale): spec.replicas, status.replicas, status.selector.
  Result<json> getScale(const Resource& r, const std::string& ns, const std::string& name) {
    return get(r, ns, name, "scale");
  }
  Result<json> setReplicas(const Resource& r, const std::string& ns, const std::string& name,
                           int32_t replicas);

  // Streams watch events to onEvent until the server closes the stream, onEvent returns false,
  // or stop. Returns the error that ended it, if any (a 410 comes back as an error with
  // isGone() true, whether it arrived as an HTTP status or as an ERROR event).
  Status watch(const Resource& r, const std::string& ns, const WatchOptions& options,
               const std::function<bool(WatchEvent&)>& onEvent, StopSource& stop);

  // GET /version: {major, minor, gitVersion, ...}.
  Result<json> serverVersion();

  // apiVersion + kind -> resource, by the built-in table or API discovery (cached).
  Result<Resource> resourceFor(const std::string& apiVersion, const std::string& kind);

 private:
  Result<json> call(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& contentType, const std::string& doing);

  std::shared_ptr<Transport> transport_;
  ClientOptions options_;
  const Clock& clock_;
  TokenBucket limiter_;
  Random random_;
  std::mutex discoveryMu_;
  std::map<std::string, Resource> discovered_;
};

}  // namespace osmosis::kube
