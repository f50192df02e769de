#pragma once

#include <memory>

#include "operator/kube/client/transport.hpp"
#include "operator/kube/config/rest_config.hpp"
#include "operator/kube/util/clock.hpp"

namespace osmosis::kube {

struct TransportOptions {
  std::chrono::seconds requestTimeout{30};
  // Streams time out when nothing arrives for this long (bookmarks arrive about once a minute).
  std::chrono::seconds streamIdleTimeout{660};
  std::string userAgent;
  std::chrono::seconds tokenRefresh{60};
};

// cpprestsdk transport: TLS from the RestConfig's in-memory PEMs, bearer token (re-read from
// tokenFile every `tokenRefresh`), keep-alive connections.
std::shared_ptr<Transport> makeCpprestTransport(const RestConfig& config,
                                                const TransportOptions& options,
                                                const Clock& clock = RealClock::instance());

}  // namespace osmosis::kube
