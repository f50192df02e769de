#pragma once

// The sidecar's local endpoint for the worker, on a loopback address (docs/sidecar.md):
//   POST /v1/requests/{id}/progress   a progress event for a request in flight in this pod
//   POST /v1/broadcast                a core NATS publish to the channel's broadcast subject
// 202 when published; 400 a body that is not what its Content-Type says; 404 an id not of
// this channel or not in flight here; 405 another method; 413 over the limit; 503 while NATS
// is unreachable. The routing and answers are pure; NATS is behind LocalSink.

#include <string>
#include <string_view>

#include "common/http/server.hpp"
#include "common/nats/headers.hpp"
#include "common/util/result.hpp"

namespace osmosis::sidecar::results {

class LocalSink {
 public:
  virtual ~LocalSink() = default;
  virtual bool natsUp() const = 0;
  // Core NATS publish.
  virtual Status publish(const std::string& subject, std::string_view data,
                         const nats::Headers& headers) = 0;
  // A progress event for a request in flight in this pod (delivered to the app, not answered
  // yet), published as one step with that check; kNotFound when it is not in flight.
  virtual Status publishProgress(const std::string& requestId, const std::string& event) = 0;
};

struct LocalEndpointOptions {
  std::string ns;
  std::string channel;
  size_t maxBodyBytes = 1024 * 1024;
};

http::Response handleLocal(const http::Request& request, const LocalEndpointOptions& options,
                           LocalSink& sink);

}  // namespace osmosis::sidecar::results
