#pragma once

// Pure: which of the gateway's endpoints a request is for (docs/gateway.md lists them).
//   POST /v1/namespaces/{ns}/channels/{name}/messages   publish
//   GET  /v1/namespaces/{ns}/channels/{name}/events     the channel's broadcasts (SSE, WebSocket)
//   GET  /v1/requests/{id}                              a request's state (303 when done)
//   GET  /v1/requests/{id}/result                       its result
//   GET  /v1/requests/{id}/events                       its events (SSE, WebSocket)
// Path segments are taken literally (no percent-decoding): every valid name is plain ASCII.

#include <string>
#include <string_view>

namespace osmosis::gateway {

enum class Endpoint { kPublish, kChannelEvents, kRequestStatus, kRequestResult, kRequestEvents };

struct Route {
  enum class Verdict { kMatched, kNotFound, kMethodNotAllowed, kBadName };
  Verdict verdict = Verdict::kNotFound;
  Endpoint endpoint = Endpoint::kPublish;
  std::string ns;
  std::string channel;
  std::string requestId;  // (checked by contract::gateway::parseRequestId)
  std::string allow;      // the Allow header for kMethodNotAllowed
  std::string problem;    // for kNotFound / kBadName: what is wrong, for the 4xx body
};

Route route(std::string_view method, std::string_view path);

}  // namespace osmosis::gateway
