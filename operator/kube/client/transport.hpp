#pragma once

// The HTTP seam of the Kubernetes client: the real one is cpprestsdk over TLS; unit tests
// inject their own to drive retries, paging and error decoding.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/util/result.hpp"
#include "operator/kube/util/stop_source.hpp"

namespace osmosis::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. /api/v1/namespaces?limit=500
  std::string body;
  std::string contentType;  // for bodies
};

struct HttpResponse {
  int status = 0;
  std::string body;        // the whole body (for streams: only when the status is not 2xx)
  std::string retryAfter;  // the Retry-After header, if any
};

class Transport {
 public:
  virtual ~Transport() = default;
  // A request with a bounded time; an error only when no HTTP answer came (connection refused,
  // TLS failure, timeout).
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
  // A long response (watch): each piece of a 2xx body goes to onChunk as it arrives, until the
  // server ends it, onChunk returns false, or `stop` is triggered. A non-2xx answer comes back
  // whole in the response.
  virtual Result<HttpResponse> stream(const HttpRequest& request,
                                      const std::function<bool(std::string_view)>& onChunk,
                                      StopSource& stop) = 0;
};

}  // namespace osmosis::kube
