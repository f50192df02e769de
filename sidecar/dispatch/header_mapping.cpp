#include "sidecar/dispatch/header_mapping.hpp"

#include <strings.h>

#include "common/contract/sidecar_contract.hpp"

namespace osmosis::sidecar {

bool reservedHeader(std::string_view name) {
  static const char* const kReserved[] = {
      "content-length", "transfer-encoding", "connection", "host",
      "keep-alive",     "upgrade",           "te",         "trailer",
      "expect"};
  for (const char* r : kReserved) {
    if (name.size() == std::char_traits<char>::length(r) &&
        ::strncasecmp(name.data(), r, name.size()) == 0)
      return true;
  }
  return name.size() >= 8 && ::strncasecmp(name.data(), "osmosis-", 8) == 0;
}

bool addNatsHeaders(RequestBuilder& req, const nats::Headers& headers) {
  bool hasContentType = false;
  for (const auto& [k, v] : headers) {
    if (!validHeaderName(k)) continue;
    if (::strcasecmp(k.c_str(), "content-type") == 0) hasContentType = true;
    if (reservedHeader(k)) {
      req.header(contract::kHeaderNatsPrefix + k, v);
    } else {
      req.header(k, v);
    }
  }
  return hasContentType;
}

}  // namespace osmosis::sidecar
