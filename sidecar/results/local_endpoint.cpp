#include "sidecar/results/local_endpoint.hpp"

#include "common/contract/gateway_contract.hpp"
#include "sidecar/results/events.hpp"

namespace osmosis::sidecar::results {
namespace gw = contract::gateway;

namespace {

constexpr std::string_view kRequestsPrefix = "/v1/requests/";
constexpr std::string_view kProgressSuffix = "/progress";
constexpr std::string_view kBroadcastPath = "/v1/broadcast";

http::Response answer(int status, std::string text) {
  return {status, "text/plain; charset=utf-8", std::move(text) + "\n", {}};
}

http::Response published(Status st) {
  if (!st.ok()) return answer(503, "cannot publish: " + st.error().message);
  return answer(202, "accepted");
}

}  // namespace

http::Response handleLocal(const http::Request& request, const LocalEndpointOptions& options,
                           LocalSink& sink) {
  const std::string path = request.path();
  std::string requestId;
  const bool progress = path.size() > kRequestsPrefix.size() + kProgressSuffix.size() &&
                        path.compare(0, kRequestsPrefix.size(), kRequestsPrefix) == 0 &&
                        path.compare(path.size() - kProgressSuffix.size(), kProgressSuffix.size(),
                                     kProgressSuffix) == 0;
  if (progress)
    requestId = path.substr(kRequestsPrefix.size(),
                            path.size() - kRequestsPrefix.size() - kProgressSuffix.size());
  if (!progress && path != kBroadcastPath) return answer(404, "not found");
  if (request.method != "POST") {
    auto r = answer(405, "use POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (request.body.size() > options.maxBodyBytes)
    return answer(413,
                  "the body is over the " + std::to_string(options.maxBodyBytes) + " byte limit");
  const std::string contentType = request.header("Content-Type");
  if (progress) {
    auto id = gw::parseRequestId(requestId);
    // One answer for every id that is not a live request here: nothing to learn by probing.
    const char* const notHere = "no such request in flight in this pod";
    if (!id || id->ns != options.ns || id->channel != options.channel) return answer(404, notHere);
    auto event = progressEvent(contentType, request.body);
    if (!event.ok()) return answer(400, event.error().message);
    if (!sink.natsUp()) return answer(503, "NATS is not reachable");
    auto st = sink.publishProgress(requestId, event.value());
    if (!st.ok() && st.error().code == Error::Code::kNotFound) return answer(404, notHere);
    return published(std::move(st));
  }
  if (!sink.natsUp()) return answer(503, "NATS is not reachable");
  nats::Headers headers;
  if (!contentType.empty()) headers.emplace_back("Content-Type", contentType);
  return published(
      sink.publish(gw::broadcastSubject(options.ns, options.channel), request.body, headers));
}

}  // namespace osmosis::sidecar::results
